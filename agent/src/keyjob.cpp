#include "keyjob.h"

#include "authorizedkeys.h"

namespace sparky::agent {

using namespace Qt::StringLiterals;

KeyJob::KeyJob(RepositoryHostConfig config, Request request, QObject *parent)
    : AgentJob(request.revoke ? u"key.revoke"_s : u"key.authorize"_s, parent)
    , m_config(std::move(config))
    , m_request(std::move(request))
{ }

KeyJob::~KeyJob() = default;

void KeyJob::run()
{
    AuthorizedKeys keys(m_config);
    auto change = m_request.revoke ? keys.revoke(m_request.node, m_request.fingerprint)
                                   : keys.authorize(m_request.node, m_request.publicKey,
                                       m_request.repositoryPath, m_request.appendOnly);
    if (!change) {
        fail(change.error());
        return;
    }
    succeed(change->toJson());
}

} // namespace sparky::agent
