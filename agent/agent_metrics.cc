#include "agent/agent_metrics.h"

namespace aims::agent {
namespace {

prometheus::Family<prometheus::Counter>& Events(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_events_total")
      .Help("Inference events received, by outcome (accepted, rejected).")
      .Register(r);
}

prometheus::Family<prometheus::Counter>& Reports(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_reports_total")
      .Help("Window reports by stage: sent (incl. resends), acked (durable at "
            "the collector), rejected (refused by the collector).")
      .Register(r);
}

prometheus::Counter& Counter(prometheus::Registry& r, const char* name,
                             const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const char* name,
                         const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

AgentMetrics::AgentMetrics(std::shared_ptr<prometheus::Registry> reg)
    : registry(reg),
      events_accepted(Events(*reg).Add({{"outcome", "accepted"}})),
      events_rejected(Events(*reg).Add({{"outcome", "rejected"}})),
      requests_bad(Counter(*reg, "aims_agent_bad_requests_total",
                           "Intake requests refused whole (unreadable body).")),
      windows_closed(Counter(*reg, "aims_agent_windows_closed_total",
                             "Windows closed and written to the spool.")),
      reports_sent(Reports(*reg).Add({{"stage", "sent"}})),
      reports_acked(Reports(*reg).Add({{"stage", "acked"}})),
      reports_rejected(Reports(*reg).Add({{"stage", "rejected"}})),
      reconnects(Counter(*reg, "aims_agent_reconnects_total",
                         "Ingest streams opened after the first.")),
      connected(Gauge(*reg, "aims_agent_connected",
                      "1 while a stream to the collector is open.")),
      spool_reports(Gauge(*reg, "aims_agent_spool_reports",
                          "Reports in the spool, not yet acknowledged.")),
      spool_bytes(Gauge(*reg, "aims_agent_spool_bytes",
                        "Bytes of reports in the spool.")) {}

}  // namespace aims::agent
