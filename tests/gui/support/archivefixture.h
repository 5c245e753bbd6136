#pragma once

// What the tests' AgentResponder answers for the archives of the DemoFleet's responder node
// (web-01): archives.list from the fleet's own runs (files series, and for www a database
// series www.pg-shop), and archive.browse over a small synthetic tree, paged by cursor
// exactly as the agent pages (docs/restore.md "Browsing"): directories first, then by name,
// `page_size` entries, `next_cursor` until the last page. home/alice/photos holds 450 files,
// enough for three pages of 200.
//
// It scripts the responder from its commandReceived signal, which the responder emits
// before it answers, so each answer fits the command's body.
//
// Threading: the test's main thread.

#include "agentresponder.h"
#include "demofleet.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QObject>

namespace sparky::test {

class ArchiveFixture final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ArchiveFixture)

public:
    // Neither is owned; both must outlive this.
    ArchiveFixture(const DemoFleet *fleet, AgentResponder *agent, QObject *parent = nullptr);
    ~ArchiveFixture() override;

    QJsonObject listResult(const QString &job) const;
    // The page the agent answers, or an empty object and `error` for a path that is not there.
    QJsonObject browseResult(const QJsonObject &body, QString *error) const;
    static QJsonArray directory(
        const QString &job, bool database, const QString &path, bool *exists);

    int browseRequests() const { return m_browseRequests; }

private:
    void onCommand(const Envelope &command);

    const DemoFleet *m_fleet = nullptr;
    AgentResponder *m_agent = nullptr;
    int m_browseRequests = 0;
};

} // namespace sparky::test
