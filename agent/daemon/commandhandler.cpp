#include "commandhandler.h"

#include "agentcommands.h"
#include "agentconfig.h"
#include "logcategories.h"
#include "statestore.h"

#include "sparky/jsonfields.h"

#include <QJsonDocument>
#include <QSqlQuery>

namespace sparky::agent {

using namespace Qt::StringLiterals;
namespace proto = sparky::protocol;
namespace j = sparky::json;
using State = proto::CommandUpdate::State;

namespace {

QString stateText(State s)
{
    return proto::CommandUpdate::stateName(s);
}

proto::CommandUpdate makeReport(const Envelope &c, State state, const QString &error)
{
    proto::CommandUpdate u;
    u.commandId = c.id;
    u.commandType = c.type;
    u.state = state;
    u.error = error;
    return u;
}

} // namespace

QStringList CommandHandler::implementedTypes()
{
    return QStringList{QString(proto::type::BackupRun), QString(proto::type::BackupCancel),
                       QString(proto::type::AgentPing)}
        + AgentCommands::types();
}

CommandHandler::CommandHandler(StateStore *store)
    : m_store(store)
{
}

Result CommandHandler::setConfig(const AgentConfig &config)
{
    m_config = std::make_shared<const AgentConfig>(config);
    m_node = config.node;
    m_allowed = config.commands.allowed;
    m_maxSkew = config.commands.maxClockSkew;
    m_key.reset();
    m_keyError.clear();
    if (config.commands.orchestratorKey.isEmpty()) {
        m_keyError = u"commands.orchestrator_key is not set, so no command can be authenticated"_s;
        return {};
    }
    auto key = VerifyKey::fromBase64(config.commands.orchestratorKey);
    if (!key)
        return key.error().wrapped(u"commands.orchestrator_key"_s);
    m_key = *key;
    return {};
}

Result CommandHandler::validate(const Envelope &c) const
{
    if (AgentCommands::types().contains(c.type)) {
        if (!m_config)
            return unexpected(ErrorCode::Unavailable, u"no configuration loaded"_s);
        return AgentCommands::validate(*m_config, c.type, c.body, c.id);
    }
    return validateBody(c);
}

Result CommandHandler::validateBody(const Envelope &c)
{
    const QJsonObject &b = c.body;
    if (c.type == proto::type::BackupRun) {
        if (auto ok = j::rejectUnknownKeys(b, {"job"_L1}); !ok)
            return ok;
        if (auto job = j::requireString(b, "job"_L1, "body"_L1, 128); !job)
            return job.error();
        return {};
    }
    if (c.type == proto::type::BackupCancel) {
        if (auto ok = j::rejectUnknownKeys(b, {"run_id"_L1}); !ok)
            return ok;
        if (auto run = j::requireString(b, "run_id"_L1, "body"_L1, 64); !run)
            return run.error();
        return {};
    }
    if (c.type == proto::type::AgentPing)
        return j::rejectUnknownKeys(b, {});
    return unexpected(ErrorCode::Validation,
                      u"command type '%1' is not implemented by this agent (version %2)"_s.arg(
                          c.type, QStringLiteral(SPARKY_VERSION)));
}

std::optional<QString> CommandHandler::knownState(const QString &id) const
{
    QSqlQuery q(m_store->database());
    q.prepare(u"SELECT state FROM commands WHERE id = ?"_s);
    q.addBindValue(id);
    if (!q.exec() || !q.next())
        return std::nullopt;
    return q.value(0).toString();
}

Result CommandHandler::record(const Envelope &c, const QString &state, const QString &error,
                              const QDateTime &now)
{
    QSqlQuery q(m_store->database());
    q.prepare(u"INSERT INTO commands(id, type, state, received_at, expires_at, error, envelope) "
              "VALUES(?, ?, ?, ?, ?, ?, ?)"_s);
    q.addBindValue(c.id);
    q.addBindValue(c.type);
    q.addBindValue(state);
    q.addBindValue(formatTimestamp(now));
    q.addBindValue(c.expires ? formatTimestamp(*c.expires) : QString());
    q.addBindValue(error.isEmpty() ? QVariant() : QVariant(error));
    q.addBindValue(serializeEnvelope(c));
    return StateStore::exec(q, u"recording command %1"_s.arg(c.id));
}

CommandVerdict CommandHandler::inspect(QByteArrayView body, const QDateTime &now)
{
    CommandVerdict v;
    auto parsed = parseEnvelope(body);
    if (!parsed) {
        v.action = CommandVerdict::Action::DeadLetter;
        v.refusal = u"malformed"_s;
        v.reason = u"not a valid command envelope: %1"_s.arg(parsed.error().toString());
        return v;
    }
    const Envelope &c = *parsed;
    v.command = c;
    if (!m_key) {
        v.action = CommandVerdict::Action::DeadLetter;
        v.refusal = u"unauthenticated"_s;
        v.reason = u"command %1 (%2) cannot be verified: %3"_s.arg(c.id, c.type, m_keyError);
        return v;
    }

    CommandCheck check;
    check.node = m_node;
    check.now = now;
    check.maxClockSkew = m_maxSkew;
    const Result verified = verifyCommand(c, *m_key, check);
    if (!verified && verified.error().code != ErrorCode::Expired) {
        v.action = CommandVerdict::Action::DeadLetter;
        v.refusal = verified.error().code == ErrorCode::Crypto ? u"unauthenticated"_s : u"misrouted"_s;
        v.reason = verified.error().message;
        return v;
    }

    // Authentic from here on: deduplicate, then report refusals to the orchestrator.
    if (auto state = knownState(c.id)) {
        v.action = CommandVerdict::Action::Drop;
        v.refusal = u"duplicate"_s;
        v.reason = u"command %1 (%2) was already handled (state %3): a broker redelivery, ignored"_s.arg(
            c.id, c.type, *state);
        return v;
    }

    State state = State::Received;
    QString why;
    if (!verified) {
        state = State::Expired;
        v.refusal = u"expired"_s;
        why = verified.error().message;
    } else if (!m_allowed.contains(c.type)) {
        state = State::Rejected;
        v.refusal = u"not_allowed"_s;
        why = u"command type '%1' is not allowed by this agent's configuration (commands.allowed: %2)"_s.arg(
            c.type, m_allowed.join(u", "_s));
    } else if (auto ok = validate(c); !ok) {
        state = State::Rejected;
        v.refusal = u"invalid"_s;
        why = u"command %1 (%2): %3"_s.arg(c.id, c.type, ok.error().message);
    }

    if (auto ok = record(c, stateText(state), why, now); !ok) {
        // Not recorded means not deduplicated: let the broker redeliver it later.
        v.action = CommandVerdict::Action::DeadLetter;
        v.refusal = u"internal"_s;
        v.reason = u"command %1 (%2) could not be recorded: %3"_s.arg(c.id, c.type, ok.error().toString());
        return v;
    }
    if (state == State::Received) {
        v.action = CommandVerdict::Action::Execute;
        return v;
    }
    v.action = CommandVerdict::Action::Drop;
    v.reason = why;
    v.report = makeReport(c, state, why);
    return v;
}

Result CommandHandler::setState(const QString &commandId, State state, const QString &runId,
                                const QString &error)
{
    QSqlQuery q(m_store->database());
    q.prepare(u"UPDATE commands SET state = ?, run_id = COALESCE(?, run_id), error = ? WHERE id = ?"_s);
    q.addBindValue(stateText(state));
    q.addBindValue(runId.isEmpty() ? QVariant() : QVariant(runId));
    q.addBindValue(error.isEmpty() ? QVariant() : QVariant(error));
    q.addBindValue(commandId);
    return StateStore::exec(q, u"updating command %1"_s.arg(commandId));
}

Expected<QList<Envelope>> CommandHandler::receivedButNotStarted()
{
    QSqlQuery q(m_store->database());
    q.prepare(u"SELECT envelope FROM commands WHERE state = ? ORDER BY received_at"_s);
    q.addBindValue(stateText(State::Received));
    if (auto ok = StateStore::exec(q, u"reading unfinished commands"_s); !ok)
        return ok.error();
    QList<Envelope> out;
    while (q.next()) {
        auto e = parseEnvelope(q.value(0).toByteArray());
        if (e)
            out.append(*e);
    }
    return out;
}

Expected<QList<std::pair<QString, QString>>> CommandHandler::running()
{
    QSqlQuery q(m_store->database());
    q.prepare(u"SELECT id, type FROM commands WHERE state = ?"_s);
    q.addBindValue(stateText(State::Running));
    if (auto ok = StateStore::exec(q, u"reading running commands"_s); !ok)
        return ok.error();
    QList<std::pair<QString, QString>> out;
    while (q.next())
        out.append({q.value(0).toString(), q.value(1).toString()});
    return out;
}

Result CommandHandler::prune(const QDateTime &now, std::chrono::seconds keep)
{
    QSqlQuery q(m_store->database());
    q.prepare(u"DELETE FROM commands WHERE expires_at != '' AND expires_at < ? AND state NOT IN (?, ?)"_s);
    q.addBindValue(formatTimestamp(now.addSecs(-keep.count())));
    q.addBindValue(stateText(State::Received));
    q.addBindValue(stateText(State::Running));
    return StateStore::exec(q, u"pruning the command log"_s);
}

} // namespace sparky::agent
