#include "ingestwriter.h"

#include "orchestratorlogging.h"

namespace sparky::orchestrator {

using namespace Qt::StringLiterals;

IngestWriter::IngestWriter(StoreSettings settings, QString connectionName)
    : m_settings(std::move(settings))
    , m_name(std::move(connectionName))
{ }

IngestWriter::~IngestWriter()
{
    m_store.reset();
    m_db.reset();
}

Result IngestWriter::open()
{
    if (m_db)
        return {};
    auto db = Database::open(m_settings, m_name, false);
    if (!db)
        return db.error();
    m_db = std::move(*db);
    m_store = std::make_unique<EventStore>(*m_db);
    return {};
}

WriteResult IngestWriter::write(
    const QList<IncomingEvent> &events, const QList<RejectedEvent> &rejected)
{
    WriteResult r;
    if (!m_db) {
        if (auto ok = open(); !ok) {
            r.storeUnavailable = true;
            r.error = ok.error();
            return r;
        }
    }
    auto outcome = m_store->applyBatch(events, rejected);
    if (outcome) {
        r.ok = true;
        r.outcome = *outcome;
        return r;
    }
    r.error = outcome.error();
    if (auto alive = m_db->ping(); !alive) {
        r.storeUnavailable = true;
        r.error = alive.error();
        return r;
    }
    // The store is up but the batch failed: find the event(s) that cannot be stored.
    r.fallback = true;
    if (!rejected.isEmpty()) {
        if (auto ok = m_store->applyBatch({}, rejected); !ok)
            qCWarning(lcIngest).noquote()
                << "could not record rejected messages:" << ok.error().toString();
    }
    for (const IncomingEvent &e : events) {
        auto one = m_store->applyBatch({ e }, {});
        r.eventStored.append(one.hasValue());
        r.eventOutcomes.append(one ? *one : BatchOutcome {});
        if (!one)
            qCWarning(lcIngest).noquote()
                << "event" << e.envelope.id << "(" << e.envelope.type << "from" << e.envelope.node
                << ") cannot be stored:" << one.error().toString();
    }
    return r;
}

} // namespace sparky::orchestrator
