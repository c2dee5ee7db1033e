#include "agent/sender.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/net/bearer_token.h"
#include "common/summary/report_parts.h"
#include "grpcpp/grpcpp.h"

namespace aims::agent {

Sender::Sender(SenderOptions options, Spool* spool, AgentMetrics* metrics,
               const Clock* clock)
    : options_(std::move(options)),
      spool_(spool),
      metrics_(metrics),
      clock_(clock) {
  channel_ = NewChannel(options_.collector);
  stub_ = v1::IngestService::NewStub(channel_);
}

std::shared_ptr<grpc::Channel> Sender::NewChannel(
    const std::string& address) const {
  grpc::ChannelArguments args;
  // Sidecar keepalive: ping every 30 s so a dead collector is noticed within
  // a minute; the collector accepts pings 10 s apart.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnection pacing is ours (Run), keep gRPC's own short.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  if (!options_.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options_.tls_server_name);
  }
  return WithBearerToken(address,
                         options_.credentials != nullptr
                             ? options_.credentials
                             : grpc::InsecureChannelCredentials(),
                         args, options_.token);
}

std::string Sender::target() const {
  absl::MutexLock lock(&mu_);
  return redirect_target_.empty() ? options_.collector : redirect_target_;
}

Sender::~Sender() { Stop(); }

void Sender::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Sender::Notify() {
  absl::MutexLock lock(&mu_);
  ++generation_;
}

bool Sender::WaitUntilDrained(absl::Time deadline) {
  while (absl::Now() < deadline) {
    if (spool_->pending_reports() + spool_->pending_gaps() == 0) return true;
    absl::MutexLock lock(&mu_);
    const uint64_t acked = acked_;
    auto changed = [this, acked]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return acked_ != acked;
    };
    mu_.AwaitWithDeadline(
        absl::Condition(&changed),
        std::min(deadline, absl::Now() + absl::Milliseconds(100)));
  }
  return spool_->pending_reports() + spool_->pending_gaps() == 0;
}

void Sender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // A stream still waiting for its Welcome cannot end gracefully.
    if (active_ != nullptr && !streaming_) active_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

bool Sender::SendItem(Stream* stream, const v1::IngestRequest& item) {
  const uint64_t seq =
      item.has_gap() ? item.gap().last_sequence() : item.report().sequence();
  {
    absl::MutexLock lock(&mu_);
    sent_at_.emplace(seq, absl::Now());
  }
  if (item.has_gap()) {
    metrics_->gaps_sent.Increment();
    return stream->Write(item);
  }
  for (v1::WindowReport& part :
       SplitReport(item.report(), options_.max_part_bytes)) {
    v1::IngestRequest request;
    *request.mutable_report() = std::move(part);
    if (!stream->Write(request)) return false;
  }
  metrics_->reports_sent.Increment();
  return true;
}

void Sender::ObserveAcked(uint64_t sequence) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  for (auto it = sent_at_.begin();
       it != sent_at_.end() && it->first <= sequence; it = sent_at_.erase(it)) {
    metrics_->ack_latency.Observe(absl::ToDoubleSeconds(now - it->second));
  }
}

void Sender::Run() {
  ReconnectBackoff backoff(options_.initial_backoff, options_.max_backoff,
                           clock_, std::random_device{}());
  for (bool first = true;; first = false) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (!first) metrics_->reconnects.Increment();
    backoff.StreamStarted();
    const Outcome outcome = RunStream();
    // Follow a redirect at once, and do not count it as a failure, unless
    // collectors keep bouncing the agent (their member lists disagree for a
    // moment): then back off as usual.
    if (outcome == Outcome::kRedirected && ++redirects_in_a_row_ <= 3) {
      continue;
    }
    if (outcome != Outcome::kRedirected) redirects_in_a_row_ = 0;
    const absl::Time wake = clock_->Now() + backoff.StreamEnded();
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_;
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&stopping), wake);
  }
}

Sender::Outcome Sender::RunStream() {
  grpc::ClientContext ctx;
  std::string address;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return Outcome::kFailed;
    active_ = &ctx;
    stream_broken_ = false;
    address = redirect_target_.empty() ? options_.collector : redirect_target_;
  }
  v1::IngestService::Stub* stub =
      address == options_.collector ? stub_.get() : redirect_stub_.get();
  std::unique_ptr<Stream> stream = stub->Report(&ctx);
  v1::Welcome welcome;
  const Outcome outcome = Handshake(&ctx, stream.get(), &welcome);
  if (outcome == Outcome::kFailed && address != options_.collector) {
    // The owner we were sent to is gone: ask the configured collector who
    // owns the model now.
    LogWarn("redirect target not reachable; back to the configured collector",
            {{"target", address}, {"collector", options_.collector}});
    absl::MutexLock lock(&mu_);
    redirect_target_.clear();
  }
  if (outcome == Outcome::kWelcomed) {
    Welcomed(welcome);
    std::thread reader([&] { ReadResponses(stream.get()); });
    WriteSpool(stream.get(), welcome.durable_sequence());
    EndStream(&ctx, stream.get());
    reader.join();
    grpc::Status status = stream->Finish();
    connected_ = false;
    metrics_->connected.Set(0);
    {
      absl::MutexLock lock(&mu_);
      if (goodbye_sent_ && status.ok()) {
        deregistered_ = true;
        LogInfo("deregistered from collector",
                {{"collector", options_.collector}});
      }
    }
    LogInfo("stream to collector ended",
            {{"code", static_cast<int>(status.error_code())},
             {"error", status.error_message()}});
  }
  absl::MutexLock lock(&mu_);
  active_ = nullptr;
  streaming_ = false;
  sent_at_.clear();
  return outcome;
}

Sender::Outcome Sender::Handshake(grpc::ClientContext* ctx, Stream* stream,
                                  v1::Welcome* welcome) {
  v1::IngestRequest hello;
  *hello.mutable_hello() = options_.hello;
  v1::IngestResponse response;
  const bool answered = stream->Write(hello) && stream->Read(&response);
  if (answered && response.has_welcome()) {
    *welcome = std::move(*response.mutable_welcome());
    return Outcome::kWelcomed;
  }
  if (answered && response.has_redirect() &&
      !response.redirect().target().empty()) {
    (void)stream->Finish();  // the collector ends the stream after Redirect
    const std::string& target = response.redirect().target();
    LogInfo("redirected to the model's collector", {{"target", target}});
    if (target != options_.collector) {
      redirect_stub_ = v1::IngestService::NewStub(NewChannel(target));
    }
    absl::MutexLock lock(&mu_);
    redirect_target_ = target == options_.collector ? "" : target;
    return Outcome::kRedirected;
  }
  // An answer other than a welcome: end the stream ourselves. Otherwise the
  // collector ended it, and Finish() gives its status and reason.
  if (answered) ctx->TryCancel();
  const grpc::Status status = stream->Finish();
  if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
      status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    LogError("collector refused this agent",
             {{"collector", options_.collector},
              {"code", static_cast<int>(status.error_code())},
              {"reason", status.error_message()}});
    absl::MutexLock lock(&mu_);
    refusal_ = status.error_message();
    return Outcome::kFailed;
  }
  LogWarn("collector not reachable",
          {{"collector", options_.collector},
           {"code", static_cast<int>(status.error_code())},
           {"error", status.error_message()}});
  return Outcome::kFailed;
}

void Sender::Leave() {
  absl::MutexLock lock(&mu_);
  leaving_ = true;
}

bool Sender::deregistered() const {
  absl::MutexLock lock(&mu_);
  return deregistered_;
}

std::string Sender::refusal() const {
  absl::MutexLock lock(&mu_);
  return refusal_;
}

void Sender::Welcomed(const v1::Welcome& welcome) {
  const uint64_t durable = welcome.durable_sequence();
  if (welcome.has_profile() && options_.on_profile) {
    options_.on_profile(welcome.profile());
  }
  if (absl::Status s = spool_->AckThrough(durable); !s.ok()) {
    LogError("spool ack failed", {{"error", s.message()}});
  }
  {
    absl::MutexLock lock(&mu_);
    acked_ = std::max(acked_, durable);
    streaming_ = true;
    refusal_.clear();
  }
  connected_ = true;
  metrics_->connected.Set(1);
  LogInfo("connected to collector",
          {{"collector", target()},
           {"collector_id", welcome.collector_id()},
           {"slot", welcome.slot()},
           {"durable_seq", durable},
           {"spool_reports", spool_->pending_reports()}});
}

void Sender::ReadResponses(Stream* stream) {
  v1::IngestResponse response;
  while (stream->Read(&response)) {
    if (response.has_ack()) {
      const uint64_t seq = response.ack().durable_sequence();
      const size_t before = spool_->pending_reports();
      if (absl::Status s = spool_->AckThrough(seq); !s.ok()) {
        LogError("spool ack failed", {{"error", s.message()}});
      }
      metrics_->reports_acked.Increment(
          static_cast<double>(before - spool_->pending_reports()));
      ObserveAcked(seq);
      absl::MutexLock lock(&mu_);
      acked_ = std::max(acked_, seq);
    } else if (response.has_profile_update()) {
      // `aimsctl profile put --replace`: bin with the new profile now.
      if (options_.on_profile) options_.on_profile(response.profile_update());
    } else if (response.has_rejection()) {
      const v1::Rejection& r = response.rejection();
      metrics_->reports_rejected.Increment();
      LogError("collector rejected report", {{"seq", r.sequence()},
                                             {"field", r.field()},
                                             {"reason", r.reason()}});
      (void)spool_->Remove(r.sequence());
      absl::MutexLock lock(&mu_);
      ++generation_;
    }
  }
  absl::MutexLock lock(&mu_);
  stream_broken_ = true;
}

void Sender::WriteSpool(Stream* stream, uint64_t durable) {
  uint64_t sent_through = durable;
  for (;;) {
    uint64_t generation = 0;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || stream_broken_) return;
      generation = generation_;
      if (sent_through < acked_) sent_through = acked_;
      if (sent_through - acked_ >= options_.max_in_flight) {
        const uint64_t acked = acked_;
        auto moved = [this, acked]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return acked_ != acked || stopping_ || stream_broken_;
        };
        mu_.AwaitWithTimeout(absl::Condition(&moved), absl::Seconds(1));
        continue;
      }
    }
    absl::StatusOr<std::vector<v1::IngestRequest>> batch =
        spool_->ReadAfter(sent_through, 16);
    if (!batch.ok()) {
      LogError("spool read failed", {{"error", batch.status().message()}});
      return;
    }
    if (batch->empty()) {
      absl::MutexLock lock(&mu_);
      auto news = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return generation_ != generation || stopping_ || stream_broken_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&news), absl::Seconds(1));
      continue;
    }
    for (const v1::IngestRequest& item : *batch) {
      if (!SendItem(stream, item)) return;
      sent_through = item.has_gap() ? item.gap().last_sequence()
                                    : item.report().sequence();
    }
  }
}

void Sender::EndStream(grpc::ClientContext* ctx, Stream* stream) {
  absl::MutexLock lock(&mu_);
  // Leaving for good, everything acknowledged: deregister (the collector
  // finishes the stream once that is durable).
  if (!stream_broken_ && leaving_ && spool_->pending_reports() == 0) {
    v1::IngestRequest goodbye;
    goodbye.mutable_goodbye()->set_reason("stopped");
    goodbye_sent_ = stream->Write(goodbye);
  }
  // Stopping: say we are done and let the collector finish.
  if (!stream_broken_) stream->WritesDone();
  // Unblock the reader if the collector does not close the stream soon.
  auto broken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stream_broken_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&broken), absl::Seconds(2))) {
    ctx->TryCancel();
  }
}

}  // namespace aims::agent
