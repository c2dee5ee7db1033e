#include "agent/agent.h"

#include "absl/strings/str_cat.h"
#include "agent/agent_metrics.h"
#include "agent/intake_service.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "agent/windower.h"
#include "aims/v1/query.grpc.pb.h"
#include "common/base/limit_error.h"
#include "common/base/log.h"
#include "common/base/proto_json.h"
#include "common/base/time_util.h"
#include "common/net/bearer_token.h"
#include "common/summary/validation.h"
#include "grpcpp/grpcpp.h"

namespace aims::agent {
namespace {

constexpr char kAgentVersion[] = "0.1.0";

}  // namespace

Agent::Agent(AgentOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {
  // Pending predictions and forwarded labels go into intake log
  // checkpoints: by default a sixteenth of the log each.
  for (uint64_t* bytes :
       {&options_.join.max_pending_bytes, &options_.join.max_forwarded_bytes}) {
    if (*bytes == 0) *bytes = options_.intake_log_max_bytes / 16;
  }
}

Agent::~Agent() { Stop(); }

absl::Status Agent::Start() {
  if (absl::Status s = OpenStores(); !s.ok()) return s;
  CreateWindower();
  if (absl::Status s = ReplayIntakeLog(); !s.ok()) return s;
  if (absl::Status s = CreateSender(); !s.ok()) return s;
  if (absl::Status s = StartHttpIntake(); !s.ok()) return s;
  if (absl::Status s = StartGrpcIntake(); !s.ok()) return s;
  sender_->Start();
  ticker_ = std::thread([this] { TickLoop(); });
  accepting_ = true;
  started_ = true;
  LogInfo("agent started",
          {{"agent_id", options_.agent.agent_id()},
           {"model",
            absl::StrCat(options_.model.name(), "/", options_.model.version(),
                         "/", options_.model.environment())},
           {"collector", options_.collector},
           {"http_port", http_port_},
           {"grpc_port", grpc_port_},
           {"window", absl::FormatDuration(options_.window)},
           {"spool_reports", spool_->pending_reports()}});
  return absl::OkStatus();
}

absl::Status Agent::OpenStores() {
  SpoolOptions spool_options;
  spool_options.dir = options_.data_dir;
  spool_options.max_bytes = options_.spool_max_bytes;
  spool_options.policy = options_.spool_drop_newest
                             ? SpoolOptions::FullPolicy::kDropNewest
                             : SpoolOptions::FullPolicy::kDropOldest;
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(spool_options);
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

  absl::StatusOr<std::unique_ptr<IntakeLog>> intake_log = IntakeLog::Open(
      options_.data_dir + "/intake", options_.intake_log_max_bytes);
  if (!intake_log.ok()) return intake_log.status();
  intake_log_ = std::move(*intake_log);
  return absl::OkStatus();
}

void Agent::CreateWindower() {
  metrics_ =
      std::make_unique<AgentMetrics>(std::make_shared<prometheus::Registry>());
  metrics_->pending_prediction_capacity_bytes.Set(
      static_cast<double>(options_.join.max_pending_bytes));
  metrics_->spool_capacity_bytes.Set(
      static_cast<double>(options_.spool_max_bytes));
  metrics_->intake_queue_capacity.Set(
      static_cast<double>(options_.intake_queue_capacity));
  metrics_->intake_log.capacity_bytes.Set(
      static_cast<double>(options_.intake_log_max_bytes));
  WindowerOptions windows;
  windows.window = options_.window;
  windows.event_time = options_.event_time;
  windows.lateness = options_.allowed_lateness;
  windows.max_open_windows = options_.max_open_windows;
  windows.join = options_.join;
  windows.not_before = spool_->last_window_end();
  windower_ = std::make_unique<Windower>(
      std::make_shared<SummaryConfig>(options_.summary), windows, clock_);
  // The profile kept from the last run, else the first events build one.
  if (absl::StatusOr<v1::ReferenceProfile> cached = spool_->LoadProfile();
      cached.ok()) {
    InstallProfile(*cached, "cache");
  } else if (options_.reference_events > 0) {
    ProfileBuildOptions build;
    build.task = options_.summary.task;
    build.positive_class = options_.summary.positive_class;
    build.max_rows = options_.reference_events;
    build.max_categories_per_feature = options_.max_categories_per_feature;
    absl::MutexLock lock(&profile_mu_);
    reference_ = std::make_unique<ProfileBuilder>(build);
  }
}

absl::Status Agent::CreateSender() {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentialsFor(options_.collector_tls, "collector_");
  if (!credentials.ok()) return credentials.status();
  collector_credentials_ = *credentials;
  SenderOptions sender_options;
  sender_options.collector = options_.collector;
  sender_options.credentials = collector_credentials_;
  sender_options.tls_server_name = options_.collector_tls.server_name;
  sender_options.token = options_.collector_token;
  *sender_options.hello.mutable_agent() = options_.agent;
  *sender_options.hello.mutable_model() = options_.model;
  sender_options.hello.set_protocol_version(1);
  sender_options.max_part_bytes = options_.max_part_bytes;
  sender_options.on_profile = [this](const v1::ReferenceProfile& profile) {
    InstallProfile(profile, "collector");
  };
  sender_ = std::make_unique<Sender>(sender_options, spool_.get(),
                                     metrics_.get(), clock_);
  return absl::OkStatus();
}

absl::Status Agent::StartHttpIntake() {
  HttpServerOptions http = options_.http;
  http.max_body_bytes = options_.max_body_bytes;
  http.work_threads = options_.intake_threads;
  http.work_queue = options_.intake_queue_capacity;
  http.registry = metrics_->registry;
  http.metrics_prefix = "aims_agent";
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Create(http);
  if (!server.ok()) return server.status();
  http_ = std::move(*server);
  // The model on every aims_agent_* series, so they join the collector's.
  http_->ServeMetrics(metrics_->registry, [this] { RefreshGauges(); }, nullptr,
                      {{"model", options_.model.name()},
                       {"model_version", options_.model.version()},
                       {"environment", options_.model.environment()}});
  http_->Handle("POST", "/v1/events", RouteBudget::kWork,
                [this](const HttpRequest& req, HttpResponse& res) {
                  HandleEvents(req, res);
                });
  http_->Handle("POST", "/v1/labels", RouteBudget::kWork,
                [this](const HttpRequest& req, HttpResponse& res) {
                  HandleLabels(req, res);
                });
  http_->Handle("GET", "/healthz", RouteBudget::kControl,
                [](const HttpRequest&, HttpResponse& res) {
                  res.SetContent("ok\n", "text/plain");
                });
  http_->Handle(
      "GET", "/readyz", RouteBudget::kControl,
      [this](const HttpRequest&, HttpResponse& res) { HandleReadyz(res); });
  // Bodies over --max_body_bytes (413) or without a Content-Length (411)
  // are refused by the server before they are read; count them.
  http_->OnLimitRefused(
      [this](absl::string_view limit) { metrics_->LimitRejected(limit); });
  // Shed load before parsing: a backlog beyond capacity gets a fast 429.
  http_->SetOverloadAnswer(RouteBudget::kWork, [this](HttpResponse& res) {
    metrics_->requests_overloaded.Increment();
    res.SetError(429, absl::StrCat("intake overloaded: more than ",
                                   options_.intake_queue_capacity,
                                   " requests queued; retry after 1 s "
                                   "(--intake_queue_capacity)"));
    res.SetHeader("Retry-After", "1");
  });
  absl::StatusOr<int> port = http_->Listen(options_.http_listen, "http_listen");
  if (!port.ok()) return port.status();
  http_port_ = *port;
  return absl::OkStatus();
}

void Agent::HandleReadyz(HttpResponse& res) {
  std::string profile_state;
  bool has_profile = false;
  {
    absl::MutexLock lock(&profile_mu_);
    has_profile = profile_ != nullptr;
    profile_state =
        has_profile  ? absl::StrCat("profile ", profile_->profile_id())
        : reference_ ? absl::StrCat("building first-events reference (",
                                    reference_->rows(), "/",
                                    options_.reference_events, ")")
                     : "no profile";
  }
  // A refusal by the collector (wrong token, an agent id of another model)
  // is said here, but like a collector outage it does not make the agent
  // unready: that would take the model out of its Service (the agent spools
  // meanwhile, and the refusal is logged and on the collector's record).
  const std::string refusal = sender_ ? sender_->refusal() : "";
  const bool ready =
      accepting_.load() && (has_profile || !options_.require_profile);
  res.status = ready ? 200 : 503;
  res.SetContent(
      absl::StrCat(
          ready ? "ready" : "not ready",
          accepting_.load() ? "" : ": not accepting events",
          refusal.empty() ? "" : ": the collector refused this agent: ",
          refusal, "; ", profile_state, "\n"),
      "text/plain");
}

absl::Status Agent::StartGrpcIntake() {
  if (options_.grpc_listen.empty()) return absl::OkStatus();
  intake_ = std::make_unique<IntakeService>(
      metrics_.get(), options_.intake.event,
      options_.intake.max_events_per_batch, options_.max_body_bytes,
      options_.grpc_max_in_flight, &accepting_, options_.intake_token_sha256,
      [this](EventBatch* batch, absl::string_view request) {
        return AcceptEvents(batch, IntakeRecord::Kind::kProtoEvents, request);
      },
      [this](LabelBatch* batch) { return AcceptLabels(batch); });
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_listen,
                           grpc::InsecureServerCredentials(), &grpc_port_);
  builder.RegisterService(intake_.get());
  builder.SetMaxReceiveMessageSize(
      TransportMessageCap(options_.max_body_bytes));
  // Bound gRPC's own buffers too: beyond the quota it refuses calls with
  // RESOURCE_EXHAUSTED rather than growing the sidecar.
  grpc::ResourceQuota quota("aims-agent-intake");
  quota.Resize(4 * options_.max_body_bytes);
  builder.SetResourceQuota(quota);
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("--grpc_listen: cannot listen on ", options_.grpc_listen,
                     " (address in use or not local)"));
  }
  return absl::OkStatus();
}

bool Agent::Admit(const HttpRequest& req, HttpResponse& res) {
  if (absl::Status s = CheckBearerToken(req.Header("Authorization"),
                                        options_.intake_token_sha256);
      !s.ok()) {
    metrics_->requests_unauthenticated.Increment();
    res.SetError(401, s.message());
    res.SetHeader("WWW-Authenticate", "Bearer");
    return false;
  }
  if (!accepting_.load()) {
    metrics_->requests_shutting_down.Increment();
    res.SetError(503, "agent is shutting down");
    res.SetHeader("Retry-After", "1");
    return false;
  }
  return true;
}

namespace {

// {"accepted":N,"rejected":M,"errors":[...],"warnings":[...]} with at most
// 100 errors and 100 warnings listed (the counts are complete); 200 on
// (partial) success, 400 when all failed.
void Answer(size_t accepted, const std::vector<EventError>& errors,
            const std::vector<EventError>& warnings, HttpResponse& res) {
  v1::SubmitResponse response;
  FillSubmitResponse(accepted, errors, warnings, &response);
  res.status = accepted == 0 && !errors.empty() ? 400 : 200;
  res.SetContent(ProtoToJson(response) + "\n", "application/json");
}

}  // namespace

void Agent::HandleEvents(const HttpRequest& req, HttpResponse& res) {
  if (!Admit(req, res)) return;
  EventBatch batch;
  absl::Status parsed = ParseEventBatch(req.body, options_.intake, &batch);
  if (!parsed.ok()) {
    BadBody(parsed, res);
    return;
  }
  if (absl::Status kept =
          AcceptEvents(&batch, IntakeRecord::Kind::kJsonEvents, req.body);
      !kept.ok()) {
    res.SetError(503, kept.message());
    res.SetHeader("Retry-After", "1");
    return;
  }
  Answer(batch.events.size(), batch.errors, batch.warnings, res);
}

void Agent::BadBody(const absl::Status& status, HttpResponse& res) {
  if (const std::string limit = LimitOf(status); !limit.empty()) {
    metrics_->LimitRejected(limit);
  } else {
    metrics_->requests_bad.Increment();
  }
  res.status = 400;
  res.SetContent(ErrorJson(status.message()) + "\n", "application/json");
}

void Agent::CountRefused(const std::vector<EventError>& errors, bool labels) {
  absl::flat_hash_map<std::string, uint64_t> by_reason;
  for (const EventError& e : errors) {
    if (!e.limit.empty()) {
      metrics_->LimitRejected(e.limit);
      ++by_reason[e.limit];
    } else if (e.duplicate) {
      (labels ? metrics_->duplicate_labels : metrics_->duplicate_events)
          .Increment();
      ++by_reason["duplicate"];
    } else {
      ++by_reason["malformed"];
    }
  }
  if (labels) {
    metrics_->labels_rejected.Increment(static_cast<double>(errors.size()));
    return;
  }
  metrics_->events_rejected.Increment(static_cast<double>(errors.size()));
  for (const auto& [reason, n] : by_reason) {
    windower_->CountRejected(reason, n);
  }
}

void Agent::CountOverflows() {
  const LimitOverflows o = windower_->TakeOverflows();
  metrics_->LimitOverflowed("features_per_window",
                            static_cast<double>(o.features));
  metrics_->LimitOverflowed("attributes_per_window",
                            static_cast<double>(o.attributes));
  metrics_->LimitOverflowed("groups_per_attribute",
                            static_cast<double>(o.groups));
  metrics_->LimitOverflowed("classes_per_window",
                            static_cast<double>(o.classes));
  metrics_->LimitOverflowed("slice_values", static_cast<double>(o.slices));
  const uint64_t unjoinable = windower_->TakeUnjoinable();
  metrics_->LimitOverflowed("pending_prediction_bytes",
                            static_cast<double>(unjoinable));
  metrics_->labels_evicted.Increment(static_cast<double>(unjoinable));
}

void Agent::HandleLabels(const HttpRequest& req, HttpResponse& res) {
  if (!Admit(req, res)) return;
  LabelBatch batch;
  absl::Status parsed = ParseLabelBatch(req.body, options_.intake, &batch);
  if (!parsed.ok()) {
    BadBody(parsed, res);
    return;
  }
  if (absl::Status kept = AcceptLabels(&batch); !kept.ok()) {
    res.SetError(503, kept.message());
    res.SetHeader("Retry-After", "1");
    return;
  }
  Answer(batch.labels.size(), batch.errors, batch.warnings, res);
}

void Agent::FeedReference(const std::vector<Event>& events) {
  absl::MutexLock lock(&profile_mu_);
  if (reference_ == nullptr || proposal_.has_value()) return;
  const uint64_t overflowed = reference_->categories_overflowed();
  for (const Event& e : events) {
    if (reference_->rows() >= options_.reference_events) break;
    reference_->Add(e);
  }
  metrics_->LimitOverflowed(
      "categories_per_feature",
      static_cast<double>(reference_->categories_overflowed() - overflowed));
  if (reference_->rows() < options_.reference_events) return;
  absl::StatusOr<v1::ReferenceProfile> built = reference_->Build(
      options_.model, v1::PROFILE_SOURCE_FIRST_EVENTS,
      absl::StrCat("first ", reference_->rows(), " events seen by agent ",
                   options_.agent.agent_id()));
  if (!built.ok()) {
    LogError("cannot build first-events reference",
             {{"error", built.status().message()}});
    reference_.reset();
    return;
  }
  proposal_ = std::move(*built);
  LogInfo("first-events reference built; proposing it to the collector",
          {{"rows", proposal_->row_count()}});
}

void Agent::ProposeReference() {
  v1::PutProfileRequest request;
  {
    absl::MutexLock lock(&profile_mu_);
    if (!proposal_.has_value() || profile_ != nullptr) return;
    *request.mutable_profile() = *proposal_;
  }
  if (!sender_->connected()) return;
  request.set_if_absent(true);
  grpc::ChannelArguments args;
  ApplyServerName(options_.collector_tls, &args);
  auto stub = v1::QueryService::NewStub(
      WithBearerToken(options_.collector, collector_credentials_, args,
                      options_.collector_token));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::PutProfileResponse response;
  grpc::Status s = stub->PutProfile(&ctx, request, &response);
  if (!s.ok()) {
    LogWarn("collector did not take the first-events reference; will retry",
            {{"error", s.error_message()}});
    return;
  }
  InstallProfile(response.profile(),
                 response.created() ? "first events" : "collector");
}

void Agent::InstallProfile(const v1::ReferenceProfile& profile,
                           absl::string_view from) {
  {
    absl::MutexLock lock(&profile_mu_);
    if (profile_ != nullptr && profile_->profile_id() == profile.profile_id())
      return;
    profile_ = std::make_shared<const v1::ReferenceProfile>(profile);
    reference_.reset();
    proposal_.reset();
    auto config = std::make_shared<SummaryConfig>(options_.summary);
    config->profile = profile_;
    windower_->SetConfig(std::move(config));
  }
  if (absl::Status s = spool_->SaveProfile(profile); !s.ok()) {
    LogError("cannot keep profile", {{"error", s.message()}});
  }
  metrics_->profile_loaded.Set(1);
  LogInfo("reference profile in force",
          {{"profile_id", profile.profile_id()},
           {"from", from},
           {"features", profile.features_size()}});
}

void Agent::RefreshGauges() {
  metrics_->spool_reports.Set(static_cast<double>(spool_->pending_reports()));
  metrics_->spool_gaps.Set(static_cast<double>(spool_->pending_gaps()));
  metrics_->spool_bytes.Set(static_cast<double>(spool_->pending_bytes()));
  metrics_->intake_queue_depth.Set(static_cast<double>(http_->queue_depth()));
  metrics_->intake_log.bytes.Set(static_cast<double>(intake_log_->bytes()));
  metrics_->pending_predictions.Set(
      static_cast<double>(windower_->pending_predictions()));
  metrics_->pending_prediction_bytes.Set(
      static_cast<double>(windower_->pending_bytes()));
  metrics_->open_windows.Set(static_cast<double>(windower_->open_windows()));
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
    ProposeReference();
  }
}

bool Agent::Stop() {
  if (!started_) return true;
  started_ = false;
  accepting_ = false;
  http_->Stop();
  if (grpc_server_) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           std::chrono::seconds(2));
    grpc_server_->Wait();
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  ticker_.join();
  SpoolClosed(false);
  SpoolClosed(true);
  const bool drained =
      sender_->WaitUntilDrained(absl::Now() + options_.grace_period);
  // Everything delivered: leave for good, so that the collector stops
  // expecting this agent (its replica slot is free for the next one).
  if (drained) sender_->Leave();
  sender_->Stop();
  LogInfo("agent stopped", {{"drained", drained},
                            {"deregistered", sender_->deregistered()},
                            {"spool_reports", spool_->pending_reports()}});
  sender_.reset();
  grpc_server_.reset();
  intake_.reset();
  windower_.reset();
  spool_.reset();
  return drained;
}

}  // namespace aims::agent
