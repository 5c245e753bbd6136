#include "pagedrpc.h"

namespace sparky::admin::test {

using namespace Qt::StringLiterals;

FakeInvoker::Handler PagedRpc::handler() const
{
    return [p = *this](const QJsonObject &params) {
        const int limit = params.value(p.limitKey).toInt(p.defaultLimit);
        const QString cursor = params.value("cursor"_L1).toString();
        const int from = cursor.isEmpty() ? 0 : cursor.mid(4).toInt(); // "row:<n>"
        QJsonArray page;
        for (int i = from; i < p.rows.size() && i < from + limit; ++i)
            page.append(p.rows.at(i));
        QJsonObject result = p.extra;
        result.insert(p.arrayKey, page);
        const int next = from + int(page.size());
        result.insert(u"next_cursor"_s,
            next < p.rows.size() ? QJsonValue(u"row:%1"_s.arg(next))
                                 : QJsonValue(QJsonValue::Null));
        if (p.resultInResult)
            result = QJsonObject { { u"command_id"_s, u"c-1"_s }, { u"result"_s, result } };
        return RpcReply::success(p.method, result);
    };
}

} // namespace sparky::admin::test
