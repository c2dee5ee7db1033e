// Rendezvous (highest random weight) placement of models on collectors:
// a model belongs to the member with the highest Weight(member, model).
// Every collector computes the same owner from the same member list, with no
// coordination beyond agreeing on the list; removing a member moves only
// the models it owned, adding one moves only the models it now wins (about
// 1/N of them).
//
// The weight is a fixed function of the bytes (FNV-1a then a 64-bit mixer),
// the same on every machine and build: never std::hash or absl::Hash, which
// are seeded per process.
//
// Thread-safety: pure functions.
#ifndef AIMS_COLLECTOR_FLEET_RENDEZVOUS_H_
#define AIMS_COLLECTOR_FLEET_RENDEZVOUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace aims::collector::fleet {

uint64_t RendezvousWeight(absl::string_view member, absl::string_view key);

// The owner of `key` among `members` (ties broken by the smaller member
// name); empty when there are no members.
std::string RendezvousOwner(absl::string_view key,
                            const std::vector<std::string>& members);

// `members` from the highest weight for `key` to the lowest (the same tie
// rule): [0] is the owner, [1] the replica that holds a copy of its data.
std::vector<std::string> RendezvousOrder(
    absl::string_view key, const std::vector<std::string>& members);

}  // namespace aims::collector::fleet

#endif  // AIMS_COLLECTOR_FLEET_RENDEZVOUS_H_
