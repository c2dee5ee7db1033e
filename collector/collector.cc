#include "collector/collector.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "collector/collector_metrics.h"
#include "collector/durable_writer.h"
#include "collector/http_api.h"
#include "collector/ingest_service.h"
#include "collector/query_service.h"
#include "collector/rocks_storage.h"
#include "common/log.h"
#include "grpcpp/grpcpp.h"

namespace aims::collector {

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
  RocksStorageOptions storage_options;
  storage_options.path = options_.data_dir;
  storage_options.sync_writes = options_.sync_writes;
  absl::StatusOr<std::unique_ptr<RocksStorage>> storage =
      RocksStorage::Open(storage_options);
  if (!storage.ok()) return storage.status();
  storage_ = std::move(*storage);

  metrics_ = std::make_unique<CollectorMetrics>(
      std::make_shared<prometheus::Registry>());
  writer_ = std::make_unique<DurableWriter>(storage_.get(), clock_,
                                            options_.ingest_queue_capacity);
  metrics_->ingest_queue_capacity.Set(
      static_cast<double>(options_.ingest_queue_capacity));

  IngestOptions ingest_options;
  ingest_options.collector_id = options_.collector_id;
  ingest_options.limits = options_.report_limits;
  ingest_ = std::make_unique<IngestService>(ingest_options, writer_.get(),
                                            metrics_.get());
  query_ = std::make_unique<QueryService>(
      options_.collector_id, storage_.get(),
      [ingest = ingest_.get()](const std::string& id) {
        return ingest->IsConnected(id);
      });

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_listen,
                           grpc::InsecureServerCredentials(), &grpc_port_);
  builder.RegisterService(ingest_.get());
  builder.RegisterService(query_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  // Agents ping every 30 s; accept pings down to 10 s apart, even on idle
  // streams, so sidecars are never answered with GOAWAY too_many_pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "--grpc_listen: cannot listen on ", options_.grpc_listen,
        " (address in use or not local)"));
  }

  http_ = std::make_unique<HttpServer>(1 << 20, 2);
  http_->ServeMetrics(metrics_->registry);
  RegisterHttpApi(http_->routes(), query_.get());
  http_->routes().Get("/healthz", [](const httplib::Request&,
                                     httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  http_->routes().Get("/readyz", [this](const httplib::Request&,
                                        httplib::Response& res) {
    const bool ready = metrics_->storage_healthy.Value() > 0;
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : "storage unhealthy\n", "text/plain");
  });
  // Refresh gauges that are read rather than counted.
  http_->routes().set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response&) {
        if (req.path == "/metrics") {
          metrics_->ingest_queue_depth.Set(static_cast<double>(writer_->depth()));
          metrics_->storage_sst_bytes.Set(
              static_cast<double>(storage_->ApproximateSizeBytes()));
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  absl::StatusOr<int> http_port = http_->Listen(options_.http_listen, "http_listen");
  if (!http_port.ok()) return http_port.status();
  http_port_ = *http_port;
  started_ = true;
  LogInfo("collector started", {{"collector_id", options_.collector_id},
                                {"grpc_port", grpc_port_},
                                {"http_port", http_port_},
                                {"data_dir", options_.data_dir},
                                {"sync_writes", options_.sync_writes}});
  return absl::OkStatus();
}

void Collector::Stop() {
  if (http_) http_->Stop();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
    server_->Wait();
    server_.reset();
  }
  writer_.reset();  // drains what was accepted
  query_.reset();
  ingest_.reset();
  storage_.reset();
  http_.reset();
  if (started_) LogInfo("collector stopped");
  started_ = false;
}

}  // namespace aims::collector
