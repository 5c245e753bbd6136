#include "secretstore.h"

namespace sparky::admin {

SecretStore::~SecretStore() = default;

} // namespace sparky::admin
