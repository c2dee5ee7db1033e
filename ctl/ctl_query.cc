// models, agents, windows, metrics: what the collector's QueryService
// knows about models, their agents and their stored windows.
#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aims/v1/query.grpc.pb.h"
#include "common/base/time_util.h"
#include "common/summary/quantile_sketch.h"
#include "ctl/arguments.h"
#include "ctl/call.h"
#include "ctl/commands.h"
#include "ctl/format.h"
#include "ctl/table.h"

namespace aims::ctl {
namespace {

using Query = v1::QueryService::Stub;

// A range query's default: the last hour.
constexpr absl::Duration kDefaultSince = absl::Hours(1);
constexpr char kDefaultEnvironment[] = "default";

struct ModelsOptions {
  ModelOptions filter;
};

struct AgentsOptions {
  ModelOptions filter;
};

struct WindowsOptions {
  ModelOptions model;
  RangeOptions range;
  absl::Duration step = absl::ZeroDuration();  // 0: one row per window
};

struct MetricsOptions {
  ModelOptions model;
  RangeOptions range;
  absl::Duration step = absl::ZeroDuration();  // 0: one point
  std::vector<std::string> metrics;            // empty: all
  // "": every value; "none": the whole model's only; "region": every value
  // of slice key region; "region=eu": that value's.
  std::string slice;
};

// The range of windows and metrics: without --to up to a minute from now,
// so that windows of agents whose clocks run a little ahead are included.
absl::Status SetRange(const RangeOptions& options,
                      google::protobuf::Timestamp* from,
                      google::protobuf::Timestamp* to) {
  const absl::Time now = absl::Now();
  absl::StatusOr<Range> range = ResolveRange(options, now);
  if (!range.ok()) return range.status();
  *from = ToProto(range->from.value_or(now - kDefaultSince));
  *to = ToProto(range->to.value_or(now + absl::Minutes(1)));
  return absl::OkStatus();
}

std::string Quantile(const v1::QuantileSketch& sketch, double q) {
  absl::StatusOr<QuantileSketch> s = QuantileSketch::FromProto(sketch);
  if (!s.ok() || s->empty()) return "-";
  return Latency(s->Quantile(q));
}

absl::Status Models(const CallOptions& call, const ModelsOptions& options,
                    std::ostream& out) {
  v1::ListModelsRequest request;
  *request.mutable_selector() = SelectorOf(options.filter);
  return CallAndShow(
      call, &Query::ListModels, request,
      [](const v1::ListModelsResponse& response, std::ostream& out) {
        Table table({"MODEL", "VERSION", "ENVIRONMENT", "AGENTS", "REPORTS",
                     "EVENTS", "LAST_SEEN", "LAST_WINDOW_END"});
        for (const v1::ModelInfo& m : response.models()) {
          table.AddRow({m.model().name(), m.model().version(),
                        m.model().environment(), absl::StrCat(m.agent_count()),
                        absl::StrCat(m.report_count()),
                        absl::StrCat(m.event_count()), Time(m.last_seen()),
                        Time(m.last_window_end())});
        }
        table.Print(out);
        out << UnansweredText(response.unanswered_collectors());
      },
      out);
}

absl::Status Agents(const CallOptions& call, const AgentsOptions& options,
                    std::ostream& out) {
  v1::ListAgentsRequest request;
  *request.mutable_selector() = SelectorOf(options.filter);
  return CallAndShow(
      call, &Query::ListAgents, request,
      [](const v1::ListAgentsResponse& response, std::ostream& out) {
        Table table({"AGENT", "MODEL", "POD", "SLOT", "CONNECTED", "LEFT",
                     "REPORTS", "DUPLICATES", "DURABLE_SEQ", "EVENTS",
                     "LAST_SEEN"});
        for (const v1::AgentInfo& a : response.agents()) {
          table.AddRow({a.agent().agent_id(), ModelText(a.model()),
                        a.agent().pod().empty() ? "-" : a.agent().pod(),
                        a.slot() == 0 ? "-" : absl::StrCat(a.slot()),
                        a.connected() ? "yes" : "no",
                        a.left_reason().empty() ? "-" : a.left_reason(),
                        absl::StrCat(a.report_count()),
                        absl::StrCat(a.duplicate_count()),
                        absl::StrCat(a.durable_sequence()),
                        absl::StrCat(a.event_count()), Time(a.last_seen())});
        }
        table.Print(out);
        out << UnansweredText(response.unanswered_collectors());
      },
      out);
}

void PrintWindows(const v1::GetSummariesResponse& response, std::ostream& out) {
  Table table({"START", "END", "REPORTS", "EVENTS", "ERRORS", "LABELLED",
               "FEATURES", "LATENCY_P50", "LATENCY_P99"});
  for (const v1::SummaryBucket& b : response.buckets()) {
    const v1::WindowSummary& w = b.summary();
    table.AddRow({Time(b.start()), Time(b.end()),
                  absl::StrCat(b.report_count()),
                  absl::StrCat(w.operational().event_count()),
                  absl::StrCat(w.operational().error_count()),
                  absl::StrCat(w.performance().labelled_count()),
                  absl::StrCat(w.features_size()),
                  Quantile(w.operational().latency_seconds(), 0.5),
                  Quantile(w.operational().latency_seconds(), 0.99)});
  }
  table.Print(out);
}

absl::Status Windows(const CallOptions& call, const WindowsOptions& options,
                     std::ostream& out) {
  if (absl::Status s = RequireModel(options.model, kDefaultEnvironment);
      !s.ok()) {
    return s;
  }
  v1::GetSummariesRequest request;
  *request.mutable_model() = ModelRefOf(options.model, kDefaultEnvironment);
  if (absl::Status s =
          SetRange(options.range, request.mutable_from(), request.mutable_to());
      !s.ok()) {
    return s;
  }
  // A step of 1 s keeps windows apart (they are at least 1 s long).
  *request.mutable_step() = ToProtoDuration(
      options.step > absl::ZeroDuration() ? options.step : absl::Seconds(1));
  return CallAndShow(call, &Query::GetSummaries, request, PrintWindows, out);
}

void PrintMetrics(const v1::QueryMetricsResponse& response, std::ostream& out) {
  Table table({"START", "METRIC", "SCOPE", "VALUE", "CI_95", "P_VALUE", "N",
               "STATE", "BACKFILLED"});
  for (const v1::MetricPoint& point : response.points()) {
    // Events loaded by aimsctl backfill: all of the point's, some, or none.
    const std::string backfilled =
        point.backfilled_events() == 0 ? "-"
        : point.backfilled_events() >= point.event_count()
            ? "yes"
            : absl::StrCat(point.backfilled_events(), "/", point.event_count());
    for (const v1::MetricValue& v : point.values()) {
      std::string scope = v.feature();
      if (!v.attribute().empty()) {
        scope = v.attribute() + (v.group().empty() ? "" : "=" + v.group());
      }
      if (!v.slice().empty()) {
        scope = scope.empty() ? "slice " + v.slice()
                              : scope + " slice " + v.slice();
      }
      const char* state = v.state() == v1::EVIDENCE_STATE_OK ? "ok"
                          : v.state() == v1::EVIDENCE_STATE_INSUFFICIENT
                              ? "insufficient"
                              : "n/a";
      table.AddRow(
          {Time(point.start()), v.metric(), scope.empty() ? "-" : scope,
           MetricNumber(v.metric(), v.value()),
           std::isnan(v.ci_low())
               ? "-"
               : absl::StrCat("[", MetricNumber(v.metric(), v.ci_low()), ", ",
                              MetricNumber(v.metric(), v.ci_high()), "]"),
           v.has_p_value() ? absl::StrFormat("%.3g", v.p_value()) : "-",
           absl::StrCat(v.sample_size()), state, backfilled});
    }
  }
  table.Print(out);
}

// Keeps the values of `slice` (MetricsOptions::slice) in every point.
void KeepSlice(const std::string& slice, v1::QueryMetricsResponse* response) {
  const bool key_only = slice.find('=') == std::string::npos;
  for (v1::MetricPoint& point : *response->mutable_points()) {
    auto* values = point.mutable_values();
    values->erase(
        std::remove_if(
            values->begin(), values->end(),
            [&](const v1::MetricValue& v) {
              if (slice == "none") return !v.slice().empty();
              return !(v.slice() == slice ||
                       (key_only && absl::StartsWith(v.slice(), slice + "=")));
            }),
        values->end());
  }
}

absl::Status Metrics(const CallOptions& call, const MetricsOptions& options,
                     std::ostream& out) {
  if (absl::Status s = RequireModel(options.model, kDefaultEnvironment);
      !s.ok()) {
    return s;
  }
  v1::QueryMetricsRequest request;
  *request.mutable_model() = ModelRefOf(options.model, kDefaultEnvironment);
  if (absl::Status s =
          SetRange(options.range, request.mutable_from(), request.mutable_to());
      !s.ok()) {
    return s;
  }
  if (options.step > absl::ZeroDuration()) {
    *request.mutable_step() = ToProtoDuration(options.step);
  }
  for (const std::string& m : options.metrics) request.add_metrics(m);
  absl::StatusOr<v1::QueryMetricsResponse> response =
      Call(call, &Query::QueryMetrics, request);
  if (!response.ok()) return response.status();
  if (!options.slice.empty()) KeepSlice(options.slice, &*response);
  Show(call, *response, PrintMetrics, out);
  return absl::OkStatus();
}

const char kRangeDefault[] =
    "Default: the last hour (--since=1h); without --to up to a minute from "
    "now.";

}  // namespace

void AddQueryCommands(CLI::App* app, CommandTable* table) {
  auto models = std::make_shared<ModelsOptions>();
  CLI::App* sub = table->Add(
      app, "models",
      "Models known to the collector, with agent, report and event counts.",
      [models](const CallOptions& call, std::ostream& out, std::ostream&) {
        return Models(call, *models, out);
      });
  AddModelOptions(sub, &models->filter, ModelUse::kFilter);

  auto agents = std::make_shared<AgentsOptions>();
  sub = table->Add(
      app, "agents",
      "Agents with last-seen time, connection and sequence state.",
      [agents](const CallOptions& call, std::ostream& out, std::ostream&) {
        return Agents(call, *agents, out);
      });
  AddModelOptions(sub, &agents->filter, ModelUse::kFilter);

  auto windows = std::make_shared<WindowsOptions>();
  sub = table->Add(
      app, "windows", "Stored windows of one model, merged across its agents.",
      [windows](const CallOptions& call, std::ostream& out, std::ostream&) {
        return Windows(call, *windows, out);
      });
  AddModelOptions(sub, &windows->model, ModelUse::kRequired,
                  kDefaultEnvironment);
  AddRangeOptions(sub, &windows->range, "the time range", kRangeDefault);
  AddDurationOption(sub, "--step", &windows->step,
                    "Merge windows into buckets of this length (default: "
                    "one row per window start).");

  auto metrics = std::make_shared<MetricsOptions>();
  sub = table->Add(
      app, "metrics",
      "Performance, drift and fairness metrics of one model per step.",
      [metrics](const CallOptions& call, std::ostream& out, std::ostream&) {
        return Metrics(call, *metrics, out);
      });
  AddModelOptions(sub, &metrics->model, ModelUse::kRequired,
                  kDefaultEnvironment);
  AddRangeOptions(sub, &metrics->range, "the time range", kRangeDefault);
  AddDurationOption(sub, "--step", &metrics->step,
                    "One point per step of this length (default: one point "
                    "for the whole range).");
  sub->add_option("--metric", metrics->metrics,
                  "Metric names to show, comma-separated, e.g. psi,accuracy "
                  "(default: all).")
      ->delimiter(',')
      ->type_name("NAME,...");
  sub->add_option("--slice", metrics->slice,
                  "Only the values of this slice key (region) or value "
                  "(region=eu); none: only the whole model's (default: all).")
      ->type_name("KEY[=VALUE]|none");
}

}  // namespace aims::ctl
