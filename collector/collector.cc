#include "collector/collector.h"

#include <unistd.h>

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/api/compliance_report_service.h"
#include "collector/api/http_api.h"
#include "collector/api/label_service.h"
#include "collector/api/nonconformity_service.h"
#include "collector/api/query_service.h"
#include "collector/auth/authorizer.h"
#include "collector/auth/sessions.h"
#include "collector/collector_metrics.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/nonconformities.h"
#include "collector/console/console.h"
#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/objective_metrics.h"
#include "collector/evaluation/objective_series.h"
#include "collector/fleet/fleet.h"
#include "collector/fleet/rendezvous.h"
#include "collector/fleet/replication_service.h"
#include "collector/fleet/replicator.h"
#include "collector/ingest/durable_writer.h"
#include "collector/ingest/ingest_service.h"
#include "collector/labels/label_join.h"
#include "collector/notify/notifier.h"
#include "collector/storage/rocks_storage.h"
#include "collector/storage/rocksdb_crc32c.h"
#include "common/base/limit_error.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "common/net/bearer_token.h"
#include "common/summary/event.h"
#include "grpcpp/grpcpp.h"

namespace aims::collector {
namespace {

// Plaintext beyond loopback passed Validate() only with --allow_plaintext.
void WarnIfPlaintext(absl::string_view flag, const std::string& address,
                     bool encrypted) {
  if (encrypted || IsLoopback(address)) return;
  LogWarn("plaintext listener on a non-loopback address",
          {{"flag", flag}, {"address", address}});
}

}  // namespace

Collector::Collector(CollectorOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {
  if (options_.collector_id.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    options_.collector_id = host[0] ? host : "aims-collector";
  }
}

Collector::~Collector() { Stop(); }

absl::Status Collector::Start() {
  if (absl::Status s = LoadTokens(); !s.ok()) return s;
  if (absl::Status s = OpenStorage(); !s.ok()) return s;
  if (absl::Status s = LoadEvaluation(); !s.ok()) return s;
  CreateServices();
  if (fleet_ != nullptr) {
    if (absl::Status s = CreateReplication(); !s.ok()) return s;
  }
  if (absl::Status s = StartGrpc(); !s.ok()) return s;
  // Joins once agents can be served here, since others redirect them here.
  if (fleet_ != nullptr) {
    fleet_worker_ = std::thread([this] { RunFleetChanges(); });
    if (absl::Status s = fleet_->Start(); !s.ok()) return s;
    replicator_->Start();
  }
  if (absl::Status s = StartHttp(); !s.ok()) return s;
  StartLoops();
  started_ = true;
  LogInfo("collector started", {{"collector_id", options_.collector_id},
                                {"grpc_port", grpc_port_},
                                {"http_port", http_port_},
                                {"data_dir", options_.data_dir},
                                {"sync_writes", options_.sync_writes},
                                {"crc32c", RocksDbCrc32cImplementation()}});
  return absl::OkStatus();
}

absl::Status Collector::LoadTokens() {
  if (options_.auth_tokens_file.empty()) {
    authorizer_ = std::make_unique<Authorizer>();
    if (!IsLoopback(options_.grpc_listen)) {
      LogWarn("no --auth_tokens_file: every client may call every API",
              {{"address", options_.grpc_listen}});
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Authorizer>> authorizer =
      Authorizer::FromFile(options_.auth_tokens_file);
  if (!authorizer.ok()) return authorizer.status();
  authorizer_ = std::move(*authorizer);
  return absl::OkStatus();
}

absl::Status Collector::OpenStorage() {
  RocksStorageOptions storage_options;
  storage_options.path = options_.data_dir;
  storage_options.sync_writes = options_.sync_writes;
  storage_options.raw_retention = options_.raw_retention;
  for (int l = 0; l < RocksStorage::kRollupLevels; ++l)
    storage_options.rollup_retention[l] = options_.rollup_retention[l];
  storage_options.rollup_delay = options_.rollup_delay;
  storage_options.rollup_delay_10s = options_.rollup_delay_10s;
  storage_options.query_threads = options_.query_threads;
  storage_options.min_free_disk_bytes = options_.min_free_disk_mib << 20;
  absl::StatusOr<std::unique_ptr<RocksStorage>> storage =
      RocksStorage::Open(storage_options);
  if (!storage.ok()) return storage.status();
  storage_ = std::move(*storage);

  metrics_ = std::make_unique<CollectorMetrics>(
      std::make_shared<prometheus::Registry>());
  authorizer_->CountFailures(
      &metrics_->auth_failures.Add({{"reason", "unauthenticated"}}),
      &metrics_->auth_failures.Add({{"reason", "denied"}}));
  LabelJoinOptions label_options;
  label_options.ttl = options_.label_ttl;
  label_options.max_bytes = options_.label_join_max_bytes;
  label_options.flush_interval = options_.label_flush_interval;
  // The evaluator exists by the first flush (StartLoops).
  label_options.on_credit = [this](const v1::ModelRef& model, absl::Time start,
                                   absl::Time end) {
    // Labels change a past window: catch-up judges it again (kLate).
    if (evaluator_ != nullptr) {
      evaluator_->OnWindowStored(model, start, end, WindowOrigin::kLate);
    }
  };
  absl::StatusOr<std::unique_ptr<LabelJoin>> join = LabelJoin::Open(
      storage_.get(), clock_, label_options, metrics_->registry.get());
  if (!join.ok()) return join.status();
  label_join_ = std::move(*join);
  audit_ = std::make_unique<AuditTrail>(storage_.get(), clock_);
  if (absl::Status s = audit_->Load(); !s.ok()) return s;
  nonconformities_ =
      std::make_unique<Nonconformities>(storage_.get(), audit_.get());
  return nonconformities_->Load();
}

absl::Status Collector::LoadEvaluation() {
  NotifierOptions notifier_options;
  notifier_options.alertmanager_urls = options_.alertmanager_urls;
  notifier_options.webhook_urls = options_.webhook_urls;
  notifier_options.webhook_secret = options_.webhook_secret;
  notifier_options.max_outbox = options_.max_outbox;
  notifier_options.external_url =
      options_.external_url.empty()
          ? absl::StrCat(options_.https() ? "https://" : "http://",
                         options_.http_listen)
          : options_.external_url;
  notifier_ =
      std::make_unique<Notifier>(storage_.get(), clock_, notifier_options);
  if (absl::Status s = notifier_->Load(); !s.ok()) return s;
  metrics_->evaluation.outbox_capacity.Set(
      static_cast<double>(options_.max_outbox));
  evaluator_ = std::make_unique<Evaluator>(storage_.get(), audit_.get(),
                                           nonconformities_.get(),
                                           notifier_.get(), clock_);
  if (absl::Status s = evaluator_->Load(); !s.ok()) return s;
  if (!options_.plan_file.empty()) {
    absl::StatusOr<v1::PlanInfo> plan = ReloadPlan("startup");
    if (!plan.ok()) return plan.status();
  }
  return absl::OkStatus();
}

void Collector::CreateServices() {
  writer_ = std::make_unique<DurableWriter>(
      storage_.get(), clock_, options_.ingest_queue_capacity, 256, audit_.get(),
      options_.ingest_queue_max_bytes);
  writer_->SetLabelJoin(label_join_.get());
  label_service_ = std::make_unique<LabelService>(
      label_join_.get(), authorizer_.get(), clock_,
      options_.max_labels_per_batch, [this](const std::string& limit) {
        metrics_->ingest.limit_rejections.Add({{"limit", limit}}).Increment();
      });
  metrics_->ingest.queue_capacity.Set(
      static_cast<double>(options_.ingest_queue_capacity));
  metrics_->ingest.queue_max_bytes.Set(
      static_cast<double>(options_.ingest_queue_max_bytes));

  IngestOptions ingest_options;
  ingest_options.collector_id = options_.collector_id;
  ingest_options.limits = options_.report_limits;
  ingest_options.max_message_bytes = options_.max_message_bytes;
  ingest_options.on_report_stored =
      [evaluator = evaluator_.get()](const v1::ModelRef& model) {
        evaluator->OnNewData(model);
      };
  ingest_options.on_window_stored = [evaluator = evaluator_.get()](
                                        const v1::ModelRef& model,
                                        const StoredWindow& w) {
    evaluator->OnWindowStored(model, w.start, w.end,
                              w.backfill ? WindowOrigin::kBackfill
                              : w.late   ? WindowOrigin::kLate
                                         : WindowOrigin::kLive);
  };
  ingest_options.authorizer = authorizer_.get();
  if (options_.fleet()) {
    fleet::FleetOptions fleet_options;
    fleet_options.etcd = options_.fleet_etcd;
    fleet_options.advertise = options_.fleet_advertise;
    fleet_options.collector_id = options_.collector_id;
    fleet_options.lease_ttl = options_.fleet_lease_ttl;
    fleet_ = std::make_unique<fleet::Fleet>(fleet_options, *metrics_->registry);
    ingest_options.redirect_for = [f = fleet_.get()](const v1::ModelRef& m) {
      return f->RedirectFor(m.name());
    };
  }
  ingest_ = std::make_unique<IngestService>(ingest_options, writer_.get(),
                                            &metrics_->ingest_service);
  if (fleet_ != nullptr) {
    // Agents of a model that moved away reconnect and are redirected.
    fleet_->OnMembersChanged([this] { NoteFleetChanged(); });
  }
  query_ = std::make_unique<QueryService>(
      options_.collector_id, storage_.get(), clock_,
      [ingest = ingest_.get()](const std::string& id) {
        return ingest->IsConnected(id);
      },
      authorizer_.get(),
      [ingest = ingest_.get()](const v1::ReferenceProfile& profile) {
        ingest->PushProfile(profile);
      });
  nc_service_ = std::make_unique<NonconformityService>(
      options_.collector_id, nonconformities_.get(), evaluator_.get(),
      audit_.get(),
      [this](const std::string& actor) { return ReloadPlan(actor); },
      authorizer_.get());
  report_service_ = std::make_unique<ComplianceReportService>(
      options_.collector_id, evaluator_.get(), nc_service_.get(), audit_.get(),
      query_.get(), clock_, authorizer_.get());
}

absl::Status Collector::StartGrpc() {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFor(options_.tls);
  if (!credentials.ok()) return credentials.status();
  WarnIfPlaintext("grpc_listen", options_.grpc_listen, options_.tls.enabled());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_listen, *credentials, &grpc_port_);
  builder.RegisterService(ingest_.get());
  builder.RegisterService(query_.get());
  builder.RegisterService(nc_service_.get());
  builder.RegisterService(report_service_.get());
  builder.RegisterService(label_service_.get());
  if (replication_service_) builder.RegisterService(replication_service_.get());
  builder.SetMaxReceiveMessageSize(
      TransportMessageCap(options_.max_message_bytes));
  // Agents ping every 30 s; accept pings down to 10 s apart, even on idle
  // streams, so sidecars are never answered with GOAWAY too_many_pings.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // And ping them: an agent whose host died (no TCP reset) is disconnected
  // within about 80 s, so that its replacement can take over its replica
  // slot (docs/profiles.md).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("--grpc_listen: cannot listen on ", options_.grpc_listen,
                     " (address in use or not local)"));
  }
  return absl::OkStatus();
}

absl::Status Collector::Liveness() const {
  const absl::Duration failing = storage_->FailingFor(absl::Now());
  if (options_.storage_restart_after == absl::ZeroDuration() ||
      failing < options_.storage_restart_after) {
    return absl::OkStatus();
  }
  // A disk still full is waited for: a restart would not help.
  const uint64_t room = std::max<uint64_t>(options_.min_free_disk_mib, 1) << 20;
  const std::optional<uint64_t> free = storage_->FreeDiskBytes();
  if (!free || *free < room) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "storage writes have failed for ", absl::FormatDuration(failing),
      " although the disk has ", *free >> 20,
      " MiB free again: restart to reopen the database "
      "(--storage_restart_after)"));
}

absl::Status Collector::StartHttp() {
  HttpServerOptions http = options_.http;
  http.max_body_bytes = 1 << 20;  // fixed: the collector has no such flag
  http.max_body_flag.clear();
  http.work_threads = 2;
  http.registry = metrics_->registry;
  http.metrics_prefix = "aims_collector";
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Create(http, options_.https() ? &options_.tls : nullptr,
                         options_.http_require_client_certificates);
  if (!server.ok()) return server.status();
  http_ = std::move(*server);
  WarnIfPlaintext("http_listen", options_.http_listen, options_.https());
  http_->ServeMetrics(
      metrics_->registry, [this] { RefreshGauges(); },
      [this] {
        std::vector<prometheus::MetricFamily> families =
            ObjectiveMetricFamilies(evaluator_->States({}),
                                    evaluator_->plan().get(),
                                    options_.max_exported_series);
        families.push_back(ProfileMismatchFamily());
        return families;
      });
  if (options_.console) {
    sessions_ = std::make_unique<SessionStore>(
        SessionOptions{options_.console_session_ttl,
                       options_.console_session_idle,
                       options_.console_max_sessions},
        authorizer_.get(), clock_);
    sessions_->CountWith(
        &prometheus::BuildGauge()
             .Name("aims_collector_console_sessions")
             .Help("Open sign-in sessions of the browser console.")
             .Register(*metrics_->registry)
             .Add({}),
        &prometheus::BuildCounter()
             .Name("aims_collector_console_sessions_refused_total")
             .Help("Console sign-ins refused because "
                   "--console_max_sessions sessions were open.")
             .Register(*metrics_->registry)
             .Add({}));
    RegisterConsole(*http_, authorizer_.get(), sessions_.get(),
                    options_.https());
  }
  RegisterHttpApi(*http_, query_.get(), nc_service_.get(),
                  report_service_.get(), authorizer_.get(), sessions_.get());
  label_service_->RegisterHttp(*http_, sessions_.get());
  http_->Handle("GET", "/healthz", RouteBudget::kControl,
                [this](const HttpRequest&, HttpResponse& res) {
                  const absl::Status live = Liveness();
                  res.status = live.ok() ? 200 : 503;
                  res.SetContent(
                      live.ok() ? "ok\n" : absl::StrCat(live.message(), "\n"),
                      "text/plain");
                });
  http_->Handle("GET", "/readyz", RouteBudget::kControl,
                [this](const HttpRequest&, HttpResponse& res) {
                  const bool ready = storage_->healthy();
                  res.status = ready ? 200 : 503;
                  res.SetContent(ready ? "ready\n" : "storage unhealthy\n",
                                 "text/plain");
                });
  absl::StatusOr<int> http_port =
      http_->Listen(options_.http_listen, "http_listen");
  if (!http_port.ok()) return http_port.status();
  http_port_ = *http_port;
  return absl::OkStatus();
}

void Collector::StartLoops() {
  label_join_->Start();
  if (options_.evaluate_in_background) {
    evaluator_->Start(options_.evaluation_tick);
    notifier_->Start();
  }
  if (options_.maintenance_interval > absl::ZeroDuration()) {
    {
      absl::MutexLock lock(&maintenance_mu_);
      stopping_ = false;
    }
    maintenance_thread_ = std::thread([this] { MaintenanceLoop(); });
  }
}

void Collector::RefreshGauges() {
  CollectorMetrics::Storage& m = metrics_->storage;
  metrics_->ingest.queue_depth.Set(static_cast<double>(writer_->depth()));
  metrics_->ingest.queue_bytes.Set(
      static_cast<double>(writer_->queued_bytes()));
  m.bytes.Set(static_cast<double>(storage_->ApproximateSizeBytes()));
  m.healthy.Set(storage_->healthy() ? 1 : 0);
  const RocksStorage::EngineState engine = storage_->engine_state();
  m.write_stopped.Set(engine.write_stopped ? 1 : 0);
  m.delayed_write_rate.Set(static_cast<double>(engine.delayed_write_rate));
  CatchUp(m.background_errors, static_cast<double>(engine.background_errors));
  m.pending_compaction_bytes.Set(
      static_cast<double>(engine.pending_compaction_bytes));
  m.running_background_jobs.Set(
      static_cast<double>(engine.running_flushes_and_compactions));
  m.query_merge_queue_depth.Set(
      static_cast<double>(storage_->merge_queue_depth()));
  RefreshEvaluationMetrics();
}

void Collector::Stop() {
  if (maintenance_thread_.joinable()) {
    {
      absl::MutexLock lock(&maintenance_mu_);
      stopping_ = true;
    }
    maintenance_thread_.join();
  }
  // Leaves the fleet first: the others take over this collector's models now
  // rather than when its lease would expire, from the last state and
  // records (it evaluates nothing once they may own them).
  if (fleet_) {
    LeaveFleetEvaluation();
    fleet_->Stop();
  }
  StopFleetChanges();
  if (http_) http_->Stop();
  if (evaluator_) evaluator_->Stop();
  if (notifier_) notifier_->Stop();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
    server_->Wait();
    server_.reset();
  }
  writer_.reset();  // drains what was accepted
  // After the drain: the last reports' and labels' copies go to the peers.
  if (replicator_) replicator_->Stop();
  label_service_.reset();
  label_join_.reset();  // stops its loop after a last flush
  replicator_.reset();
  replication_service_.reset();
  peers_.reset();
  query_.reset();
  ingest_.reset();
  fleet_.reset();
  report_service_.reset();
  nc_service_.reset();
  evaluator_.reset();
  notifier_.reset();
  nonconformities_.reset();
  audit_.reset();
  storage_.reset();
  http_.reset();
  if (started_) LogInfo("collector stopped");
  started_ = false;
}

absl::StatusOr<v1::PlanInfo> Collector::ReloadPlan(const std::string& actor) {
  if (options_.plan_file.empty()) {
    return absl::FailedPreconditionError(
        "the collector runs without --plan; nothing to reload");
  }
  absl::StatusOr<Plan> plan =
      LoadPlanFile(options_.plan_file, options_.max_objectives_per_plan);
  if (!plan.ok()) {
    if (const std::string limit = LimitOf(plan.status()); !limit.empty()) {
      metrics_->ingest.limit_rejections.Add({{"limit", limit}}).Increment();
    }
    LogWarn("monitoring plan not loaded", {{"error", plan.status().message()}});
    return plan.status();
  }
  absl::StatusOr<int> unchanged = evaluator_->SetPlan(std::move(*plan), actor);
  if (!unchanged.ok()) return unchanged.status();
  metrics_->evaluation.plan_objectives.Set(
      evaluator_->plan_info().objectives());
  return evaluator_->plan_info();
}

int Collector::EvaluateNow() { return evaluator_->EvaluateDue(); }

absl::Status Collector::ReloadTokens() {
  return authorizer_->ReloadIfChanged();
}

absl::Status Collector::MaintainNow() {
  for (;;) {
    absl::StatusOr<MaintenanceStats> stats = storage_->Maintain(clock_->Now());
    if (!stats.ok()) {
      metrics_->storage.maintenance_errors.Increment();
      metrics_->storage.healthy.Set(storage_->healthy() ? 1 : 0);
      return stats.status();
    }
    metrics_->storage.healthy.Set(storage_->healthy() ? 1 : 0);
    metrics_->storage.rollups.Add({{"result", "built"}})
        .Increment(static_cast<double>(stats->rollups_built));
    metrics_->storage.rollups.Add({{"result", "rebuilt"}})
        .Increment(static_cast<double>(stats->rollups_rebuilt));
    metrics_->storage.rollups.Add({{"result", "failed"}})
        .Increment(static_cast<double>(stats->rollup_failures));
    metrics_->storage.rollups.Add({{"result", "deleted"}})
        .Increment(static_cast<double>(stats->rollups_deleted));
    metrics_->storage.retention_deleted_reports.Increment(
        static_cast<double>(stats->raw_reports_deleted));
    if (!stats->budget_exhausted) return absl::OkStatus();
  }
}

prometheus::MetricFamily Collector::ProfileMismatchFamily() const {
  prometheus::MetricFamily f;
  f.name = "aims_collector_profile_mismatch_total";
  f.help =
      "Evaluation passes in which a model version's windows were binned on "
      "another reference profile than the stored one, so that its drift "
      "was not applicable (logged once per profile pair).";
  f.type = prometheus::MetricType::Counter;
  for (const auto& [key, n] : evaluator_->ProfileMismatches()) {
    prometheus::ClientMetric m;
    m.label = {{"model", key.first}, {"version", key.second}};
    m.counter.value = static_cast<double>(n);
    f.metric.push_back(std::move(m));
  }
  return f;
}

int Collector::ExpireAgents() {
  if (options_.agent_expiry <= absl::ZeroDuration()) return 0;
  const absl::Time now = clock_->Now();
  int expired = 0;
  for (const v1::AgentInfo& a : storage_->ListAgents({})) {
    const std::string& id = a.agent().agent_id();
    if (a.has_left_at() || ingest_->IsConnected(id) ||
        now - FromProto(a.last_seen()) < options_.agent_expiry) {
      continue;
    }
    absl::Status s = storage_->MarkAgentLeft(id, "expired", now);
    if (s.ok()) {
      s = audit_->Append(
          {"agent_expired",
           id,
           {{"agent", id},
            {"model", ModelName(a.model())},
            {"slot", absl::StrCat(a.slot())},
            {"last_seen", absl::FormatTime(FromProto(a.last_seen()))},
            {"agent_expiry", absl::FormatDuration(options_.agent_expiry)}}});
    }
    if (!s.ok()) {
      LogWarn("cannot expire agent", {{"agent", id}, {"error", s.message()}});
      continue;
    }
    ++expired;
    LogInfo(
        "agent expired",
        {{"agent", id}, {"model", ModelName(a.model())}, {"slot", a.slot()}});
  }
  return expired;
}

void Collector::MaintenanceLoop() {
  for (;;) {
    if (absl::Status s = MaintainNow(); !s.ok()) {
      LogWarn("storage maintenance failed; retrying", {{"error", s.message()}});
    }
    ExpireAgents();
    // Token changes take effect without a restart; a broken file keeps
    // the tokens in force.
    if (absl::Status s = ReloadTokens(); !s.ok()) {
      LogWarn("tokens file not reloaded; the tokens in force stay",
              {{"error", s.message()}});
    }
    absl::MutexLock lock(&maintenance_mu_);
    maintenance_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                     options_.maintenance_interval);
    if (stopping_) return;
  }
}

int Collector::DeliverNow() { return notifier_->DeliverDue(); }

void Collector::RefreshEvaluationMetrics() {
  CollectorMetrics::Evaluation& m = metrics_->evaluation;
  std::map<v1::ObjectiveState, int> states;
  // In a fleet, a series or record counts on its model's owner only (its
  // peer keeps a copy, a former owner may too).
  auto counted = [this](const v1::ModelRef& model) {
    return fleet_ == nullptr || EvaluatesHere(model.name());
  };
  for (const v1::ObjectiveStatus& s : evaluator_->States({}))
    if (counted(s.model())) ++states[s.state()];
  for (auto [state, name] :
       {std::pair{v1::OBJECTIVE_STATE_INACTIVE, "inactive"},
        std::pair{v1::OBJECTIVE_STATE_PENDING, "pending"},
        std::pair{v1::OBJECTIVE_STATE_FIRING, "firing"},
        std::pair{v1::OBJECTIVE_STATE_RESOLVED, "resolved"},
        std::pair{v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE,
                  "insufficient_evidence"},
        std::pair{v1::OBJECTIVE_STATE_POSSIBLE_BREACH, "possible_breach"}}) {
    m.objective_series.Add({{"state", name}}).Set(states[state]);
  }
  std::map<std::pair<std::string, std::string>, int> ncs;
  // Overdue by model and severity; 0 for every model evaluated, so that the
  // series exist before the first is overdue.
  std::map<std::pair<std::string, std::string>, int> overdue;
  for (const v1::ObjectiveStatus& s : evaluator_->States({})) {
    if (!counted(s.model())) continue;
    for (const char* severity : {"info", "warning", "critical"})
      overdue[{s.model().name(), severity}] += 0;
  }
  const absl::Time now = clock_->Now();
  for (const v1::Nonconformity& nc : nonconformities_->List({})) {
    if (!counted(nc.model())) continue;
    ++ncs[{SeverityText(nc.severity()), StageName(nc.stage())}];
    overdue[{nc.model().name(), SeverityText(nc.severity())}] +=
        IsOverdue(nc, now) ? 1 : 0;
  }
  for (const auto& [key, n] : overdue) {
    m.nonconformities_overdue
        .Add({{"model", key.first}, {"severity", key.second}})
        .Set(n);
  }
  for (const char* severity : {"info", "warning", "critical"}) {
    for (int stage = v1::NONCONFORMITY_STAGE_OPEN;
         stage <= v1::NONCONFORMITY_STAGE_RISK_ACCEPTED; ++stage) {
      const std::string stage_name =
          StageName(static_cast<v1::NonconformityStage>(stage));
      m.nonconformities.Add({{"severity", severity}, {"stage", stage_name}})
          .Set(ncs[{severity, stage_name}]);
    }
  }
  m.outbox_depth.Set(static_cast<double>(notifier_->depth()));
  const NotifierCounters& n = notifier_->counters();
  CatchUp(m.notifications.Add({{"result", "delivered"}}), n.delivered.load());
  CatchUp(m.notifications.Add({{"result", "failed_attempt"}}),
          n.failed_attempts.load());
  CatchUp(m.notifications.Add({{"result", "rejected"}}), n.rejected.load());
  CatchUp(m.notifications.Add({{"result", "dropped"}}), n.dropped.load());
  CatchUp(m.notifications.Add({{"result", "superseded"}}), n.superseded.load());
  CatchUp(m.evaluations, evaluator_->counters().evaluations.load());
  CatchUp(m.evaluation_errors, evaluator_->counters().errors.load());
  m.audit_records.Set(static_cast<double>(audit_->size()));
}

}  // namespace aims::collector
