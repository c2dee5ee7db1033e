#include "agent/agent.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "agent/agent_metrics.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "agent/windower.h"
#include "common/log.h"
#include "common/time_util.h"
#include "common/validation.h"

namespace aims::agent {
namespace {

constexpr char kAgentVersion[] = "0.1.0";

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrCat("\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out.push_back(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

Agent::Agent(AgentOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {}

Agent::~Agent() { Stop(); }

absl::Status Agent::Start() {
  if (absl::Status s = ValidateModelRef(options_.model, "model"); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(options_.data_dir);
  if (!spool.ok()) return spool.status();
  spool_ = std::move(*spool);
  absl::StatusOr<std::string> id = spool_->AgentId(options_.agent.agent_id());
  if (!id.ok()) return id.status();
  options_.agent.set_agent_id(*id);
  options_.agent.set_agent_version(kAgentVersion);
  if (options_.agent.host().empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    options_.agent.set_host(host);
  }
  if (absl::Status s = ValidateAgentRef(options_.agent, "agent"); !s.ok()) {
    return s;
  }

  metrics_ = std::make_unique<AgentMetrics>(
      std::make_shared<prometheus::Registry>());
  windower_ = std::make_unique<Windower>(
      std::make_shared<SummaryConfig>(options_.summary), options_.window,
      clock_);
  SenderOptions sender_options;
  sender_options.collector = options_.collector;
  *sender_options.hello.mutable_agent() = options_.agent;
  *sender_options.hello.mutable_model() = options_.model;
  sender_options.hello.set_protocol_version(1);
  sender_ = std::make_unique<Sender>(sender_options, spool_.get(),
                                     metrics_.get());

  http_ = std::make_unique<HttpServer>(options_.max_body_bytes, 4);
  http_->ServeMetrics(metrics_->registry);
  http_->routes().Post("/v1/events", [this](const httplib::Request& req,
                                            httplib::Response& res) {
    HandleEvents(req, res);
  });
  http_->routes().Get("/healthz", [](const httplib::Request&,
                                     httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  http_->routes().Get("/readyz", [this](const httplib::Request&,
                                        httplib::Response& res) {
    const bool ready = accepting_.load();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : "not accepting events\n", "text/plain");
  });
  http_->routes().set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response&) {
        if (req.path == "/metrics") {
          metrics_->spool_reports.Set(
              static_cast<double>(spool_->pending_reports()));
          metrics_->spool_bytes.Set(static_cast<double>(spool_->pending_bytes()));
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  absl::StatusOr<int> port = http_->Listen(options_.http_listen, "http_listen");
  if (!port.ok()) return port.status();
  http_port_ = *port;

  sender_->Start();
  ticker_ = std::thread([this] { TickLoop(); });
  accepting_ = true;
  started_ = true;
  LogInfo("agent started",
          {{"agent_id", options_.agent.agent_id()},
           {"model", absl::StrCat(options_.model.name(), "/",
                                  options_.model.version(), "/",
                                  options_.model.environment())},
           {"collector", options_.collector},
           {"http_port", http_port_},
           {"window", absl::FormatDuration(options_.window)},
           {"spool_reports", spool_->pending_reports()}});
  return absl::OkStatus();
}

void Agent::HandleEvents(const httplib::Request& req, httplib::Response& res) {
  if (!accepting_.load()) {
    res.status = 503;
    res.set_header("Retry-After", "1");
    res.set_content(R"({"error":"agent is shutting down"})", "application/json");
    return;
  }
  EventBatch batch;
  absl::Status parsed = ParseEventBatch(req.body, options_.intake, &batch);
  if (!parsed.ok()) {
    metrics_->requests_bad.Increment();
    res.status = 400;
    res.set_content(absl::StrCat(R"({"error":)", JsonString(parsed.message()), "}\n"),
                    "application/json");
    return;
  }
  windower_->Add(batch.events);
  if (!batch.errors.empty()) {
    windower_->CountRejected("malformed", batch.errors.size());
  }
  metrics_->events_accepted.Increment(static_cast<double>(batch.events.size()));
  metrics_->events_rejected.Increment(static_cast<double>(batch.errors.size()));
  std::string body = absl::StrCat(R"({"accepted":)", batch.events.size(),
                                  R"(,"rejected":)", batch.errors.size(),
                                  R"(,"errors":[)");
  // Report at most 100 errors; the counts above are complete.
  for (size_t i = 0; i < batch.errors.size() && i < 100; ++i) {
    const EventError& e = batch.errors[i];
    absl::StrAppend(&body, i ? "," : "", R"({"index":)", e.index,
                    R"(,"field":)", JsonString(e.field), R"(,"reason":)",
                    JsonString(e.reason), "}");
  }
  body += "]}\n";
  // Partial success is 200 with errors listed; all refused is 400.
  res.status = batch.events.empty() && !batch.errors.empty() ? 400 : 200;
  res.set_content(body, "application/json");
}

void Agent::SpoolClosed(bool close_open_window) {
  for (;;) {
    std::optional<ClosedWindow> closed =
        close_open_window ? windower_->CloseNow() : windower_->CloseIfDue();
    if (!closed) return;
    v1::WindowReport report;
    report.set_agent_id(options_.agent.agent_id());
    *report.mutable_window_start() = ToProto(closed->start);
    *report.mutable_window_end() = ToProto(closed->end);
    *report.mutable_summary() = std::move(closed->summary);
    const uint64_t events = report.summary().operational().event_count();
    absl::StatusOr<uint64_t> seq = spool_->Append(std::move(report));
    if (!seq.ok()) {
      LogError("window lost: spool write failed",
               {{"error", seq.status().message()}, {"events", events}});
      continue;
    }
    metrics_->windows_closed.Increment();
    LogInfo("window closed", {{"seq", *seq},
                              {"start", FormatRfc3339(closed->start)},
                              {"events", events}});
    sender_->Notify();
  }
}

void Agent::TickLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      // Real time; windows follow clock_, which tests may drive.
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping),
                               absl::Milliseconds(100))) {
        return;
      }
    }
    SpoolClosed(false);
  }
}

bool Agent::Stop() {
  if (!started_) return true;
  started_ = false;
  accepting_ = false;
  http_->Stop();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  ticker_.join();
  SpoolClosed(false);
  SpoolClosed(true);
  const bool drained =
      sender_->WaitUntilDrained(absl::Now() + options_.grace_period);
  sender_->Stop();
  LogInfo("agent stopped", {{"drained", drained},
                            {"spool_reports", spool_->pending_reports()}});
  sender_.reset();
  windower_.reset();
  spool_.reset();
  return drained;
}

}  // namespace aims::agent
