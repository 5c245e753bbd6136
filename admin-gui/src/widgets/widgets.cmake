# Included from admin-gui/CMakeLists.txt: the widget library and the program.
add_library(sparky_admin_widgets STATIC
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/archivebrowserview.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/archivebrowserview.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/chartsview.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/chartsview.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/commandsview.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/commandsview.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/consolecontroller.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/consolecontroller.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/dialogs.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/dialogs.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/fleetview.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/fleetview.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/mainwindow.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/mainwindow.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/nodejobselector.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/nodejobselector.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/profiledialog.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/profiledialog.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/restoredialog.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/restoredialog.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/runhistoryview.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/runhistoryview.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/runnowview.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/runnowview.h
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/tableviews.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets/tableviews.h
)
target_include_directories(sparky_admin_widgets PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src/widgets)
target_link_libraries(sparky_admin_widgets PUBLIC sparky_admin_models Qt6::Widgets Qt6::Charts)

add_executable(sparky-admin ${CMAKE_CURRENT_SOURCE_DIR}/main.cpp)
target_link_libraries(sparky-admin PRIVATE sparky_admin_widgets)
install(TARGETS sparky-admin RUNTIME DESTINATION bin)
