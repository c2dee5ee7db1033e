#include "agent/agent_metrics.h"

namespace aims::agent {
namespace {

prometheus::Family<prometheus::Counter>& Events(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_events_total")
      .Help(
          "Inference events received, by outcome: accepted, or rejected "
          "(malformed, over a limit or a duplicate; each is listed in the "
          "response).")
      .Register(r);
}

prometheus::Family<prometheus::Counter>& Refused(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_requests_refused_total")
      .Help(
          "Intake requests refused whole before parsing, by reason: "
          "overloaded (429, intake queue full), shutting_down (503), "
          "unauthenticated (401: --intake_token_sha256 set and no or a "
          "wrong token), intake_log_full (503: accepted events not yet "
          "spooled fill --intake_log_max_bytes).")
      .Register(r);
}

prometheus::Family<prometheus::Counter>& Labels(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_labels_total")
      .Help(
          "Delayed labels (POST /v1/labels, SubmitLabels) by outcome: "
          "forwarded (sent on in the window's report to the collector's "
          "central join, which joins every delayed label), rejected "
          "(malformed, duplicate in one request or beyond a bound); and "
          "evicted: predictions beyond --max_pending_prediction_bytes, "
          "which no label can join.")
      .Register(r);
}

prometheus::Family<prometheus::Counter>& Reports(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_reports_total")
      .Help(
          "Window reports by stage: sent (incl. resends), acked (durable at "
          "the collector), rejected (refused by the collector).")
      .Register(r);
}

prometheus::Family<prometheus::Counter>& LimitRejections(
    prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_limit_rejections_total")
      .Help(
          "Items refused because they exceed a limit, by limit (its flag "
          "without --max_): whole requests for body_bytes (413) and "
          "events_per_batch (400), single events or labels otherwise.")
      .Register(r);
}

prometheus::Family<prometheus::Counter>& LimitOverflows(
    prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_limit_overflows_total")
      .Help(
          "Values beyond a limit that were kept in an overflow bucket or "
          "dropped, by limit: groups_per_attribute, classes_per_window and "
          "categories_per_feature fold into __other__; features_per_window "
          "and attributes_per_window values are dropped; beyond "
          "pending_prediction_bytes a prediction is folded but cannot be "
          "joined to a delayed label.")
      .Register(r);
}

prometheus::Family<prometheus::Counter>& Duplicates(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_agent_duplicate_ids_total")
      .Help(
          "Events and labels refused because their prediction_id repeats an "
          "earlier item of the request or (events) a prediction waiting for "
          "its label in an open window, by item.")
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

IntakeLogMetrics::IntakeLogMetrics(prometheus::Registry& r)
    : bytes(Gauge(r, "aims_agent_intake_log_bytes",
                  "Bytes of the intake log: accepted events and labels of "
                  "windows not yet in the spool.")),
      capacity_bytes(
          Gauge(r, "aims_agent_intake_log_capacity_bytes",
                "Bound of the intake log (--intake_log_max_bytes).")),
      errors(Counter(r, "aims_agent_intake_log_errors_total",
                     "Accepted batches the intake log could not record (I/O "
                     "error): counted, but lost if the agent is killed before "
                     "their window is spooled.")),
      events_replayed(Counter(r, "aims_agent_events_replayed_total",
                              "Events replayed from the intake log at start "
                              "(the earlier run ended before spooling "
                              "them).")),
      checkpoints(Counter(r, "aims_agent_intake_log_checkpoints_total",
                          "Summaries of a busy open window written to the "
                          "intake log in place of its batches (every "
                          "--intake_log_max_bytes / 8 bytes).")) {}

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
      gaps_sent(Counter(*reg, "aims_agent_gaps_sent_total",
                        "Gap notices (lost windows) sent to the collector, "
                        "incl. resends.")),
      windows_dropped(Counter(*reg, "aims_agent_windows_dropped_total",
                              "Closed windows dropped because the spool was "
                              "full; each is reported to the collector as a "
                              "gap.")),
      windows_unspooled(Gauge(*reg, "aims_agent_windows_unspooled",
                              "Closed windows waiting in memory because the "
                              "spool could not write them (disk full); "
                              "retried every tick.")),
      windows_lost(Counter(*reg, "aims_agent_windows_lost_total",
                           "Closed windows lost because the spool could "
                           "write none for so long that those waiting "
                           "exceeded 32 MiB of summaries.")),
      requests_overloaded(Refused(*reg).Add({{"reason", "overloaded"}})),
      requests_shutting_down(Refused(*reg).Add({{"reason", "shutting_down"}})),
      requests_unauthenticated(
          Refused(*reg).Add({{"reason", "unauthenticated"}})),
      requests_log_full(Refused(*reg).Add({{"reason", "intake_log_full"}})),
      ack_latency(prometheus::BuildHistogram()
                      .Name("aims_agent_ack_latency_seconds")
                      .Help("Time from sending a report to its durable "
                            "acknowledgement by the collector.")
                      .Register(*reg)
                      .Add({},
                           prometheus::Histogram::BucketBoundaries{
                               0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                               5, 10, 30})),
      intake_queue_depth(Gauge(*reg, "aims_agent_intake_queue_depth",
                               "HTTP requests accepted and waiting for a "
                               "worker.")),
      intake_queue_capacity(Gauge(*reg, "aims_agent_intake_queue_capacity",
                                  "Depth beyond which requests are answered "
                                  "429.")),
      spool_capacity_bytes(Gauge(*reg, "aims_agent_spool_capacity_bytes",
                                 "Bound of the spool (--spool_max_bytes).")),
      spool_gaps(Gauge(*reg, "aims_agent_spool_gaps",
                       "Gap records in the spool, not yet acknowledged.")),
      labels_forwarded(Labels(*reg).Add({{"outcome", "forwarded"}})),
      labels_evicted(Labels(*reg).Add({{"outcome", "evicted"}})),
      labels_rejected(Labels(*reg).Add({{"outcome", "rejected"}})),
      predictions_unlabelled(
          Counter(*reg, "aims_agent_predictions_unlabelled_total",
                  "Predictions with a prediction_id and no inline label, "
                  "kept in their window for a delayed label.")),
      predictions_awaiting(
          Counter(*reg, "aims_agent_predictions_forwarded_total",
                  "Predictions with a prediction_id and no inline label "
                  "whose window closed, sent on as join records to the "
                  "collector's central join (labels_awaited).")),
      pending_predictions(Gauge(*reg, "aims_agent_pending_predictions",
                                "Predictions awaiting their label in the "
                                "open window.")),
      open_windows(Gauge(*reg, "aims_agent_open_windows",
                         "Window instances held open (on-time and late; "
                         "--max_open_windows).")),
      late_events(Counter(*reg, "aims_agent_late_events_total",
                          "Events that arrived after their window's "
                          "allowed lateness, sent in an extra report of "
                          "that window (late_events).")),
      pending_prediction_bytes(
          Gauge(*reg, "aims_agent_pending_prediction_bytes",
                "Bytes of the predictions awaiting their label in the open "
                "window.")),
      pending_prediction_capacity_bytes(
          Gauge(*reg, "aims_agent_pending_prediction_capacity_bytes",
                "Bound of the pending predictions of a window "
                "(--max_pending_prediction_bytes).")),
      profile_loaded(Gauge(*reg, "aims_agent_profile_loaded",
                           "1 while a reference profile is in force (its bins "
                           "shape the histograms).")),
      reconnects(Counter(*reg, "aims_agent_reconnects_total",
                         "Ingest streams opened after the first.")),
      connected(Gauge(*reg, "aims_agent_connected",
                      "1 while a stream to the collector is open.")),
      spool_reports(Gauge(*reg, "aims_agent_spool_reports",
                          "Reports in the spool, not yet acknowledged.")),
      spool_bytes(Gauge(*reg, "aims_agent_spool_bytes",
                        "Bytes of reports in the spool.")),
      limit_rejections(LimitRejections(*reg)),
      limit_overflows(LimitOverflows(*reg)),
      unknown_fields(Counter(*reg, "aims_agent_unknown_fields_total",
                             "Unknown fields in events and labels, ignored "
                             "(each is listed as a warning in the answer).")),
      duplicate_events(Duplicates(*reg).Add({{"item", "event"}})),
      duplicate_labels(Duplicates(*reg).Add({{"item", "label"}})),
      intake_log(*reg) {
  for (const char* limit : kRejectingLimits) {
    limit_rejections.Add({{"limit", limit}});
  }
  for (const char* limit : kOverflowLimits) {
    limit_overflows.Add({{"limit", limit}});
  }
}

void AgentMetrics::LimitRejected(absl::string_view limit, double n) {
  if (n > 0) limit_rejections.Add({{"limit", std::string(limit)}}).Increment(n);
}

void AgentMetrics::LimitOverflowed(const std::string& limit, double n) {
  if (n > 0) limit_overflows.Add({{"limit", limit}}).Increment(n);
}

}  // namespace aims::agent
