// Collector ids are unique in a fleet (docs/scale-out.md), with a real
// etcd on loopback: a second collector with an id another live collector
// holds does not start, the same collector starting again does, and one
// whose id was taken while its lease was lost stays fenced.
#include "collector/fleet/fleet.h"
#include "etcd/rpc.grpc.pb.h"
#include "prometheus/registry.h"
#include "tests/integration/fleet_processes.h"

namespace aims::fleet_processes {
namespace {

// The keys under `prefix` (key -> value); empty when etcd fails.
std::map<std::string, std::string> Keys(const std::string& etcd,
                                        const std::string& prefix) {
  auto listed =
      collector::fleet::EtcdClient(etcd, absl::Seconds(2)).List(prefix);
  if (!listed.ok()) return {};
  return {listed->begin(), listed->end()};
}

// The lease `key` is under; 0 when absent (or etcd fails).
int64_t LeaseOf(const std::string& etcd, const std::string& key) {
  auto kv = etcdserverpb::KV::NewStub(
      grpc::CreateChannel(etcd, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  etcdserverpb::RangeResponse response;
  if (!kv->Range(&ctx, request, &response).ok() || response.kvs_size() != 1)
    return 0;
  return response.kvs(0).lease();
}

collector::fleet::FleetOptions IdOptions(const std::string& etcd,
                                         const std::string& id,
                                         const std::string& advertise) {
  collector::fleet::FleetOptions o;
  o.etcd = etcd;
  o.collector_id = id;
  o.advertise = advertise;
  o.lease_ttl = absl::Seconds(3);
  return o;
}

// A second collector with the id of a live one does not start, naming the
// id, the holder and the flag; it leaves no member key. The id is free
// again once the holder stops.
TEST_F(FleetProcessesTest, SecondCollectorWithATakenIdDoesNotStart) {
  StartEtcd();
  prometheus::Registry ra, rb, rc;
  collector::fleet::Fleet a(IdOptions(etcd_address_, "c0", "10.0.0.1:4317"),
                            ra);
  ASSERT_TRUE(a.Start().ok());
  collector::fleet::Fleet b(IdOptions(etcd_address_, "c0", "10.0.0.2:4317"),
                            rb);
  const absl::Status s = b.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_NE(s.message().find("\"c0\""), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("10.0.0.1:4317"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("--collector_id"), absl::string_view::npos) << s;
  EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/"),
            (std::map<std::string, std::string>{
                {"/aims/fleet/ids/c0", "10.0.0.1:4317"},
                {"/aims/fleet/members/10.0.0.1:4317", "10.0.0.1:4317"}}));
  b.Stop();
  a.Stop();  // revokes the lease: the id is free
  EXPECT_TRUE(Keys(etcd_address_, "/aims/fleet/").empty());
  collector::fleet::Fleet c(IdOptions(etcd_address_, "c0", "10.0.0.2:4317"),
                            rc);
  ASSERT_TRUE(c.Start().ok());
  EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/ids/"),
            (std::map<std::string, std::string>{
                {"/aims/fleet/ids/c0", "10.0.0.2:4317"}}));
  c.Stop();
}

// The same id at the same address starts again: after a clean stop, with
// its id key still there from its previous life (the key moves to the new
// lease), and after its previous lease expired.
TEST_F(FleetProcessesTest, SameCollectorStartsAgain) {
  StartEtcd();
  const std::string me = "10.0.0.1:4317";
  {
    prometheus::Registry r, r_again;
    collector::fleet::Fleet a(IdOptions(etcd_address_, "c0", me), r);
    ASSERT_TRUE(a.Start().ok());
    a.Stop();
    collector::fleet::Fleet again(IdOptions(etcd_address_, "c0", me), r_again);
    ASSERT_TRUE(again.Start().ok());
    EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/ids/")["/aims/fleet/ids/c0"],
              me);
    again.Stop();
  }
  // A previous life killed before its lease ended: its keys are still there.
  collector::fleet::EtcdClient etcd(etcd_address_);
  absl::StatusOr<int64_t> old = etcd.GrantLease(absl::Minutes(1));
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE(etcd.Put("/aims/fleet/ids/c1", me, *old).ok());
  ASSERT_TRUE(etcd.Put("/aims/fleet/members/" + me, me, *old).ok());
  {
    prometheus::Registry r;
    collector::fleet::Fleet a(IdOptions(etcd_address_, "c1", me), r);
    ASSERT_TRUE(a.Start().ok());
    const int64_t lease = LeaseOf(etcd_address_, "/aims/fleet/ids/c1");
    EXPECT_NE(lease, 0);
    EXPECT_NE(lease, *old);
    // The old lease ending takes nothing of the new life.
    ASSERT_TRUE(etcd.RevokeLease(*old).ok());
    EXPECT_EQ(LeaseOf(etcd_address_, "/aims/fleet/ids/c1"), lease);
    EXPECT_EQ(LeaseOf(etcd_address_, "/aims/fleet/members/" + me), lease);
    EXPECT_EQ(a.members(), std::vector<std::string>{me});
    a.Stop();
  }
  // A previous life whose lease expired (etcd's shortest, 2 s).
  absl::StatusOr<int64_t> expiring = etcd.GrantLease(absl::Seconds(2));
  ASSERT_TRUE(expiring.ok()) << expiring.status();
  ASSERT_TRUE(etcd.Put("/aims/fleet/ids/c2", me, *expiring).ok());
  ASSERT_TRUE(
      WaitFor([&] { return Keys(etcd_address_, "/aims/fleet/ids/").empty(); },
              absl::Seconds(10)));
  prometheus::Registry r;
  collector::fleet::Fleet a(IdOptions(etcd_address_, "c2", me), r);
  ASSERT_TRUE(a.Start().ok());
  EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/ids/")["/aims/fleet/ids/c2"], me);
  a.Stop();
}

TEST_F(FleetProcessesTest, CollectorsWithDifferentIdsBothStart) {
  StartEtcd();
  prometheus::Registry ra, rb;
  collector::fleet::Fleet a(IdOptions(etcd_address_, "c0", "10.0.0.1:4317"),
                            ra);
  collector::fleet::Fleet b(IdOptions(etcd_address_, "c1", "10.0.0.2:4317"),
                            rb);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/ids/"),
            (std::map<std::string, std::string>{
                {"/aims/fleet/ids/c0", "10.0.0.1:4317"},
                {"/aims/fleet/ids/c1", "10.0.0.2:4317"}}));
  EXPECT_EQ(b.members(),
            (std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317"}));
  b.Stop();
  a.Stop();
}

// A collector whose lease was lost while another took its id: retaking the
// lease fails, so it stays fenced and out of the member list; once the id
// is free it claims it again and the fence lifts.
TEST_F(FleetProcessesTest, IdTakenWhileTheLeaseWasLostKeepsTheCollectorFenced) {
  StartEtcd();
  const std::string me = "10.0.0.1:4317", other = "10.0.0.9:4317";
  prometheus::Registry r;
  collector::fleet::FleetOptions options = IdOptions(etcd_address_, "c0", me);
  options.refresh = absl::Milliseconds(500);
  collector::fleet::Fleet a(options, r);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_FALSE(a.fenced());
  const int64_t lease = LeaseOf(etcd_address_, "/aims/fleet/ids/c0");
  ASSERT_NE(lease, 0);
  // Another collector holds the id (moved to its lease), then a's lease
  // ends.
  collector::fleet::EtcdClient etcd(etcd_address_);
  absl::StatusOr<int64_t> theirs = etcd.GrantLease(absl::Minutes(1));
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_TRUE(etcd.Put("/aims/fleet/ids/c0", other, *theirs).ok());
  ASSERT_TRUE(etcd.RevokeLease(lease).ok());
  ASSERT_TRUE(WaitFor([&] { return a.fenced(); }, absl::Seconds(10)));
  // Still fenced a lease later: every retry fails, and a is no member.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_TRUE(a.fenced());
  EXPECT_FALSE(a.Owns("model-1"));
  EXPECT_EQ(
      Keys(etcd_address_, "/aims/fleet/"),
      (std::map<std::string, std::string>{{"/aims/fleet/ids/c0", other}}));
  EXPECT_TRUE(a.members().empty());
  // The other collector leaves: a claims the id again, the fence lifts.
  ASSERT_TRUE(etcd.RevokeLease(*theirs).ok());
  ASSERT_TRUE(WaitFor([&] { return !a.fenced(); }, absl::Seconds(10)));
  EXPECT_EQ(
      Keys(etcd_address_, "/aims/fleet/"),
      (std::map<std::string, std::string>{{"/aims/fleet/ids/c0", me},
                                          {"/aims/fleet/members/" + me, me}}));
  EXPECT_TRUE(
      WaitFor([&] { return a.members() == std::vector<std::string>{me}; },
              absl::Seconds(5)));
  a.Stop();
}

}  // namespace
}  // namespace aims::fleet_processes
