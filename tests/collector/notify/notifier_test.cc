#include "collector/notify/notifier.h"

#include <cmath>
#include <thread>

#include "collector/storage/rocks_storage.h"
#include "common/base/hash.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

TEST(HashTest, HmacSha256MatchesRfc4231) {
  // RFC 4231, test case 1.
  EXPECT_EQ(HmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// A webhook (or Alertmanager) receiver that fails its first call, then
// records what it gets at `path`.
class Receiver {
 public:
  explicit Receiver(const std::string& path = "/hook") : path_(path) {
    server_.Post(
        path, [this](const httplib::Request& req, httplib::Response& res) {
          absl::MutexLock lock(&mu_);
          if (++calls_ == 1) {
            res.status = 503;
            return;
          }
          bodies_.push_back(req.body);
          signatures_.push_back(req.get_header_value("X-Aims-Signature"));
          res.status = 204;
        });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    testing::WaitFor([this] { return server_.is_running(); },
                     absl::Seconds(10));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", port_, path_);
  }

  absl::Mutex mu_;
  int calls_ = 0;
  std::vector<std::string> bodies_;
  std::vector<std::string> signatures_;

 private:
  const std::string path_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(NotifierTest, SignedWebhookRetriedUntilDeliveredAndOutboxBounded) {
  testing::TempDir dir;
  RocksStorageOptions storage_options;
  storage_options.path = dir.path();
  storage_options.sync_writes = false;
  auto storage = std::move(*RocksStorage::Open(storage_options));
  FakeClock clock;
  Receiver receiver;
  NotifierOptions options;
  options.webhook_urls = {receiver.url()};
  options.webhook_secret = "s3cret";
  options.max_outbox = 2;
  Notifier notifier(storage.get(), &clock, options);
  ASSERT_TRUE(notifier.Load().ok());
  v1::Nonconformity nc;
  nc.set_id("NC-000007");
  ASSERT_TRUE(storage
                  ->Apply(notifier.WebhookMutations("nonconformity.opened", nc,
                                                    clock.Now()))
                  .ok());
  EXPECT_EQ(notifier.DeliverDue(), 0);  // 503: kept, retried later
  EXPECT_EQ(notifier.counters().failed_attempts.load(), 1u);
  EXPECT_EQ(notifier.depth(), 1u);
  EXPECT_EQ(notifier.DeliverDue(), 0);  // not due yet (backoff)
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(notifier.DeliverDue(), 1);
  EXPECT_EQ(notifier.depth(), 0u);
  {
    absl::MutexLock lock(&receiver.mu_);
    ASSERT_EQ(receiver.bodies_.size(), 1u);
    EXPECT_NE(receiver.bodies_[0].find(R"("event":"nonconformity.opened")"),
              std::string::npos);
    EXPECT_NE(receiver.bodies_[0].find(R"("id":"NC-000007")"),
              std::string::npos);
    EXPECT_EQ(
        receiver.signatures_[0],
        absl::StrCat("sha256=", HmacSha256Hex("s3cret", receiver.bodies_[0])));
  }
  // Bounded: a third entry pushes out the oldest, counted.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(storage
                    ->Apply(notifier.WebhookMutations("nonconformity.resolved",
                                                      nc, clock.Now()))
                    .ok());
  }
  EXPECT_EQ(notifier.depth(), 2u);
  EXPECT_EQ(notifier.counters().dropped.load(), 1u);
  // The outbox is durable: a new notifier finds both entries.
  Notifier reopened(storage.get(), &clock, options);
  ASSERT_TRUE(reopened.Load().ok());
  EXPECT_EQ(reopened.depth(), 2u);
}

// A lease renewal that failed and waits for its retry is replaced by the
// resolution that follows, also after a restart: Alertmanager receives only
// the resolution, never the stale lease after it.
// A lease renewed while the series fires without evidence (keep_firing_for,
// evidence lapsed) must not read "accuracy = nan must be >= 0.9 (n = 0)".
TEST(NotifierTest, DescriptionSaysWhenEvidenceLapsed) {
  Objective objective;
  objective.id = "accuracy";
  objective.comparator = Comparator::kGreaterEqual;
  objective.threshold = 0.9;
  objective.window = absl::Minutes(5);
  v1::Nonconformity nc;
  nc.mutable_evidence()->mutable_value()->set_metric("accuracy");
  nc.mutable_evidence()->mutable_value()->set_value(0.85);
  nc.mutable_evidence()->mutable_value()->set_sample_size(200);
  v1::ObjectiveStatus status;
  v1::MetricValue* v = status.mutable_last_value();
  v->set_metric("accuracy");
  v->set_value(0.85);
  v->set_sample_size(200);
  v->set_state(v1::EVIDENCE_STATE_OK);
  EXPECT_EQ(AlertDescription(nc, objective, status),
            "accuracy = 0.85 must be >= 0.9 over 5m (n = 200)");

  v->set_value(std::nan(""));
  v->set_sample_size(0);
  v->set_state(v1::EVIDENCE_STATE_INSUFFICIENT);
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  *status.mutable_last_breach() = ToProto(t);
  *status.mutable_last_evaluated() = ToProto(t + absl::Minutes(7));
  const std::string lapsed = AlertDescription(nc, objective, status);
  EXPECT_EQ(lapsed,
            "accuracy: no evidence at the last evaluation "
            "(2023-11-14T22:20:20.000Z); last breach at "
            "2023-11-14T22:13:20.000Z; "
            "opened on accuracy = 0.85 (n = 200), must be >= 0.9 over 5m");
  EXPECT_EQ(lapsed.find("nan"), std::string::npos);
}

TEST(NotifierTest, ResolutionSupersedesAnUndeliveredLease) {
  testing::TempDir dir;
  RocksStorageOptions storage_options;
  storage_options.path = dir.path();
  storage_options.sync_writes = false;
  auto storage = std::move(*RocksStorage::Open(storage_options));
  FakeClock clock;
  Receiver am("/api/v2/alerts");
  NotifierOptions options;
  options.alertmanager_urls = {am.url()};
  Objective objective;
  objective.id = "parity";
  objective.title = "Parity";
  v1::ObjectiveStatus status;
  status.set_series("credit/v1/prod attribute=gender");
  status.mutable_model()->set_name("credit");
  status.set_attribute("gender");
  *status.mutable_fired_at() = ToProto(clock.Now());
  v1::Nonconformity nc;
  nc.set_id("NC-000001");
  {
    Notifier notifier(storage.get(), &clock, options);
    ASSERT_TRUE(notifier.Load().ok());
    ASSERT_TRUE(storage
                    ->Apply(notifier.AlertMutations(nc, objective, status,
                                                    false, clock.Now()))
                    .ok());
    EXPECT_EQ(notifier.DeliverDue(), 0);  // 503: waits for its retry
    EXPECT_EQ(notifier.depth(), 1u);
  }
  clock.Advance(absl::Seconds(30));
  const absl::Time resolved_at = clock.Now();
  Notifier notifier(storage.get(), &clock, options);  // restarted
  ASSERT_TRUE(notifier.Load().ok());
  // Another alert (other labels) is not touched.
  v1::ObjectiveStatus other = status;
  other.set_attribute("age_band");
  ASSERT_TRUE(storage
                  ->Apply(notifier.AlertMutations(nc, objective, other, false,
                                                  clock.Now()))
                  .ok());
  ASSERT_TRUE(storage
                  ->Apply(notifier.AlertMutations(nc, objective, status, true,
                                                  resolved_at))
                  .ok());
  EXPECT_EQ(notifier.depth(), 3u);
  EXPECT_EQ(notifier.DeliverDue(), 2);
  EXPECT_EQ(notifier.counters().superseded.load(), 1u);
  EXPECT_EQ(notifier.depth(), 0u);
  absl::MutexLock lock(&am.mu_);
  ASSERT_EQ(am.bodies_.size(), 2u);
  EXPECT_NE(am.bodies_[0].find(R"("attribute":"age_band")"), std::string::npos)
      << am.bodies_[0];
  EXPECT_NE(am.bodies_[1].find(R"("attribute":"gender")"), std::string::npos);
  EXPECT_NE(am.bodies_[1].find(
                absl::StrCat(R"("endsAt":")", FormatRfc3339(resolved_at))),
            std::string::npos)
      << am.bodies_[1];
}

}  // namespace
}  // namespace aims::collector
