#pragma once

// The ingestor's store writer: one Database connection and EventStore on a thread of their
// own, so that a batch is committed while the next one is received and decoded.
//
// Threading: created on the ingestor's thread, then moved to (and used only on) the writer
// thread owned by the Ingestor; every call arrives as a queued invocation, one at a time,
// and answers through the callback it was given (invoked on the writer thread; the
// Ingestor posts it back to its own thread).

#include "database.h"
#include "eventstore.h"

#include <QObject>
#include <functional>
#include <memory>

namespace sparky::orchestrator {

struct WriteResult
{
    bool ok = false;
    bool storeUnavailable = false; // the store did not answer a ping after the failure
    BatchOutcome outcome; // when ok
    Error error; // when not
    // One-by-one retry after a failed batch: per event, whether it was stored (fallback only).
    bool fallback = false;
    QList<bool> eventStored;
    QList<BatchOutcome> eventOutcomes;
};

class IngestWriter final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(IngestWriter)

public:
    IngestWriter(StoreSettings settings, QString connectionName);
    ~IngestWriter() override;

    // Opens the connection (on the writer thread). Migrations are the daemon's job.
    Result open();
    // One transaction for the batch; on failure: unavailable store → report it, otherwise
    // retry every event in its own transaction and report each.
    WriteResult write(const QList<IncomingEvent> &events, const QList<RejectedEvent> &rejected);

private:
    StoreSettings m_settings;
    QString m_name;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<EventStore> m_store;
};

} // namespace sparky::orchestrator
