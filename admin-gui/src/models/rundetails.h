#pragma once

// The details of one run for the history's details pane: run.get (summary, steps, stats,
// full error, log tail, details), with the steps in a StepsModel.
//
// Threading: GUI thread.

#include "rpcinvoker.h"
#include "stepsmodel.h"

#include <QJsonObject>
#include <QPointer>

namespace sparky::admin {

class RunDetails final : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunDetails)

public:
    explicit RunDetails(RpcInvoker *invoker, QObject *parent = nullptr);
    ~RunDetails() override;

    void load(const QString &node, const QString &runId);
    void clear();
    void setRun(const QJsonObject &run); // a run.get result

    QJsonObject run() const { return m_run; }
    StepsModel *steps() { return &m_steps; }
    bool isLoading() const { return m_loading; }

    // "Archive web-01-home-… · original 6.8 GiB, compressed 2.9 GiB, deduplicated 62.5 MiB ·
    // 120034 files · 3 min 6 s" — empty fields left out.
    static QString statsText(const QJsonObject &run);
    // Headline: "backup of web-01/home — Warning (trigger schedule), started … finished …".
    static QString headline(const QJsonObject &run);
    // What a restore or drill reports in its details (run.get only): "restored to
    // /srv/restore/5c0e…, 4 files, 1.82 MiB"; "25 sampled files checked, all match". Empty
    // for other runs.
    static QString detailsText(const QJsonObject &run);

Q_SIGNALS:
    void loaded();
    void errorOccurred(const QString &message);

private:
    QPointer<RpcInvoker> m_invoker;
    StepsModel m_steps;
    QJsonObject m_run;
    quint64 m_generation = 0;
    bool m_loading = false;
};

} // namespace sparky::admin
