#pragma once

// Serves a list of JSON rows the way the orchestrator pages them (runs.query,
// commands.query) or the agent does (archive.browse): `limit` (or `page_size`) rows from an
// opaque cursor, with `next_cursor` on every page but the last. A FakeInvoker handler.

#include "fakeinvoker.h"

#include <QJsonArray>

namespace sparky::admin::test {

struct PagedRpc
{
    QString method;
    QString arrayKey;
    QJsonArray rows;
    QString limitKey = QStringLiteral("limit");
    int defaultLimit = 50;
    bool resultInResult = false; // wrap the page as the orchestrator does for agent answers
    QJsonObject extra; // more fields of every page (total, path …)

    FakeInvoker::Handler handler() const;
};

} // namespace sparky::admin::test
