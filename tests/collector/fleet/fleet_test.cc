// Rendezvous placement and the Fleet's ownership bookkeeping, with member
// lists set by the test (no etcd), and the fleet flags' validation.
#include "collector/fleet/fleet.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/collector_options.h"
#include "collector/fleet/rendezvous.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/testing/test_util.h"

namespace aims::collector::fleet {
namespace {

std::vector<std::string> Members(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(absl::StrCat("10.0.0.", i, ":4317"));
  return out;
}

std::map<std::string, std::string> Place(
    int models, const std::vector<std::string>& members) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < models; ++i) {
    const std::string model = absl::StrCat("model-", i);
    out[model] = RendezvousOwner(model, members);
  }
  return out;
}

TEST(RendezvousTest, SameAnswerWhateverTheOrderOfMembers) {
  std::vector<std::string> members = Members(5);
  const auto before = Place(200, members);
  std::reverse(members.begin(), members.end());
  EXPECT_EQ(Place(200, members), before);
  EXPECT_EQ(RendezvousOwner("m", {}), "");
}

TEST(RendezvousTest, WeightIsFixedAcrossProcessesAndBuilds) {
  // A pinned value: a change here would move every model of every fleet
  // during a rolling upgrade.
  EXPECT_NE(RendezvousWeight("ab", "c"), RendezvousWeight("a", "bc"));
  EXPECT_EQ(RendezvousWeight("127.0.0.1:4317", "credit-scoring"),
            uint64_t{0xa91c53ae4d2edad7});
}

TEST(RendezvousTest, RemovingAMemberMovesOnlyItsModels) {
  const std::vector<std::string> all = Members(4);
  const auto before = Place(1000, all);
  std::vector<std::string> rest(all.begin(), all.end() - 1);
  const auto after = Place(1000, rest);
  int moved = 0;
  for (const auto& [model, owner] : before) {
    if (owner == all.back()) {
      ++moved;
      EXPECT_NE(after.at(model), all.back());
    } else {
      EXPECT_EQ(after.at(model), owner) << model;
    }
  }
  // About a quarter each: 1000/4 = 250, and no member is left out.
  EXPECT_GT(moved, 180);
  EXPECT_LT(moved, 320);
}

TEST(RendezvousTest, AddingAMemberMovesOnlyModelsToIt) {
  const std::vector<std::string> three = Members(3);
  const std::vector<std::string> four = Members(4);
  const auto before = Place(1000, three);
  const auto after = Place(1000, four);
  int moved = 0;
  for (const auto& [model, owner] : before) {
    if (after.at(model) != owner) {
      ++moved;
      EXPECT_EQ(after.at(model), four.back()) << model;
    }
  }
  EXPECT_GT(moved, 180);
  EXPECT_LT(moved, 320);
}

TEST(FleetTest, RedirectsModelsOwnedElsewhereAndCountsMoves) {
  prometheus::Registry registry;
  const std::vector<std::string> members = Members(3);
  FleetOptions options;
  options.etcd = "127.0.0.1:1";  // never called: Start() is not
  options.advertise = members[0];
  Fleet fleet(options, registry);
  // No member known: serve everything here.
  EXPECT_EQ(fleet.RedirectFor("early"), "");
  fleet.SetMembers(members);
  int mine = 0, moves_expected = 0;
  for (int i = 0; i < 60; ++i) {
    const std::string model = absl::StrCat("model-", i);
    const std::string owner = RendezvousOwner(model, members);
    EXPECT_EQ(fleet.RedirectFor(model), owner == members[0] ? "" : owner);
    if (owner == members[0]) ++mine;
    if (owner == members[2]) ++moves_expected;
  }
  // "early" was placed with no members and now has an owner: one move.
  const int early_mine = RendezvousOwner("early", members) == members[0];
  auto gauge = [&](const std::string& name) {
    for (const auto& family : registry.Collect()) {
      if (family.name == name) {
        const auto& m = family.metric.at(0);
        return family.type == prometheus::MetricType::Counter ? m.counter.value
                                                              : m.gauge.value;
      }
    }
    return -1.0;
  };
  EXPECT_EQ(gauge("aims_fleet_members"), 3);
  EXPECT_EQ(gauge("aims_fleet_models_owned"), mine + early_mine);
  EXPECT_EQ(gauge("aims_fleet_ownership_moves_total"), 1);
  // Member 2 leaves: exactly its models move, to members 0 and 1.
  const int early_moves = RendezvousOwner("early", members) == members[2];
  fleet.SetMembers({members[1], members[0]});
  EXPECT_EQ(gauge("aims_fleet_ownership_moves_total"),
            1 + moves_expected + early_moves);
  int now_mine = 0;
  for (int i = 0; i < 60; ++i) {
    now_mine += fleet.RedirectFor(absl::StrCat("model-", i)).empty();
  }
  now_mine += fleet.RedirectFor("early").empty();
  EXPECT_EQ(gauge("aims_fleet_models_owned"), now_mine);
  EXPECT_GT(now_mine, mine);
}

TEST(FleetOptionsTest, BothFlagsOrNeither) {
  CollectorOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.fleet_etcd = "127.0.0.1:2379";
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o.fleet_advertise = "127.0.0.1:4317";
  EXPECT_TRUE(o.Validate().ok()) << o.Validate();
  o.fleet_advertise = "no-port";
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o.fleet_advertise = "127.0.0.1:4317";
  o.fleet_lease_ttl = absl::Seconds(1);
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RendezvousTest, OrderStartsWithTheOwnerAndHoldsEveryMember) {
  const std::vector<std::string> members = Members(4);
  for (int i = 0; i < 50; ++i) {
    const std::string model = absl::StrCat("model-", i);
    const std::vector<std::string> order = RendezvousOrder(model, members);
    ASSERT_EQ(order.size(), members.size());
    EXPECT_EQ(order[0], RendezvousOwner(model, members));
    // The second is who owns the model once the first is gone.
    std::vector<std::string> rest = members;
    rest.erase(std::find(rest.begin(), rest.end(), order[0]));
    EXPECT_EQ(order[1], RendezvousOwner(model, rest));
  }
}

TEST(FleetTest, PeerIsTheOtherOfTheTopTwo) {
  prometheus::Registry registry;
  const std::vector<std::string> members = Members(3);
  FleetOptions options;
  options.etcd = "127.0.0.1:1";  // never called: Start() is not
  options.advertise = members[0];
  Fleet fleet(options, registry);
  fleet.SetMembers({members[0]});
  EXPECT_EQ(fleet.PeerFor("model-1"), "");  // alone: nobody to copy to
  EXPECT_TRUE(fleet.LabelHoldersFor("model-1").empty());
  fleet.SetMembers(members);
  int owned = 0, replicas = 0, neither = 0;
  using Holders = std::vector<std::string>;
  for (int i = 0; i < 60; ++i) {
    const std::string model = absl::StrCat("model-", i);
    const std::vector<std::string> order = RendezvousOrder(model, members);
    const std::string peer = fleet.PeerFor(model);
    if (order[0] == members[0]) {
      EXPECT_EQ(peer, order[1]);
      EXPECT_EQ(fleet.LabelHoldersFor(model), Holders{order[1]});
      ++owned;
    } else if (order[1] == members[0]) {
      EXPECT_EQ(peer, order[0]);  // a returning owner catches up from here
      EXPECT_EQ(fleet.LabelHoldersFor(model), Holders{order[0]});
      ++replicas;
    } else {
      EXPECT_EQ(peer, "");
      // Labels posted here before the model moved away go to both holders.
      EXPECT_EQ(fleet.LabelHoldersFor(model), (Holders{order[0], order[1]}));
      ++neither;
    }
  }
  EXPECT_GT(owned, 0);
  EXPECT_GT(replicas, 0);
  EXPECT_GT(neither, 0);
}

TEST(FleetTest, FencedOnceTheLeaseMayHaveExpiredUntilRenewed) {
  prometheus::Registry registry;
  const std::vector<std::string> members = Members(2);
  FleetOptions options;
  options.etcd = "127.0.0.1:1";  // never called: Start() is not
  options.advertise = members[0];
  options.lease_ttl = absl::Seconds(10);
  options.refresh = absl::Seconds(1);
  Fleet fleet(options, registry);
  int changes = 0;
  fleet.OnMembersChanged([&] { ++changes; });
  fleet.SetMembers(members);
  ASSERT_EQ(changes, 1);
  std::string mine;
  for (int i = 0; mine.empty(); ++i) {
    const std::string model = absl::StrCat("model-", i);
    if (RendezvousOwner(model, members) == members[0]) mine = model;
  }
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  fleet.NoteRenewal(t0);
  // Up to lease_ttl - refresh after the last renewal was sent: serving.
  fleet.UpdateFence(t0 + absl::Seconds(9) - absl::Milliseconds(1));
  EXPECT_FALSE(fleet.fenced());
  EXPECT_TRUE(fleet.Owns(mine));
  EXPECT_EQ(fleet.RedirectFor(mine), "");
  EXPECT_EQ(changes, 1);
  // Then the lease may be gone and the other collector may own the model:
  // this one owns nothing, evaluates nothing, sends Hellos there.
  fleet.UpdateFence(t0 + absl::Seconds(9));
  EXPECT_TRUE(fleet.fenced());
  EXPECT_FALSE(fleet.Owns(mine));
  EXPECT_EQ(fleet.RedirectFor(mine), members[1]);
  EXPECT_EQ(fleet.PeerFor(mine), "");
  EXPECT_TRUE(fleet.LabelHoldersFor(mine).empty());
  EXPECT_EQ(changes, 2);  // its streams end
  // A renewal lifts the fence.
  fleet.NoteRenewal(t0 + absl::Seconds(12));
  fleet.UpdateFence(t0 + absl::Seconds(12));
  EXPECT_FALSE(fleet.fenced());
  EXPECT_TRUE(fleet.Owns(mine));
  EXPECT_EQ(changes, 3);
}

}  // namespace
}  // namespace aims::collector::fleet
