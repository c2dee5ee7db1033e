#include "collector/fleet/rendezvous.h"

#include <algorithm>
#include <utility>

namespace aims::collector::fleet {
namespace {

uint64_t Fnv1a(uint64_t h, absl::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// splitmix64's finalizer: FNV alone leaves the high bits of similar keys
// correlated, which would skew placement.
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t RendezvousWeight(absl::string_view member, absl::string_view key) {
  uint64_t h = Fnv1a(0xcbf29ce484222325ULL, member);
  h = Fnv1a(h, absl::string_view("\0", 1));  // "ab"+"c" != "a"+"bc"
  return Mix(Fnv1a(h, key));
}

std::string RendezvousOwner(absl::string_view key,
                            const std::vector<std::string>& members) {
  const std::string* best = nullptr;
  uint64_t best_weight = 0;
  for (const std::string& m : members) {
    const uint64_t w = RendezvousWeight(m, key);
    if (best == nullptr || w > best_weight || (w == best_weight && m < *best)) {
      best = &m;
      best_weight = w;
    }
  }
  return best == nullptr ? std::string() : *best;
}

std::vector<std::string> RendezvousOrder(
    absl::string_view key, const std::vector<std::string>& members) {
  std::vector<std::pair<uint64_t, std::string>> weighted;
  weighted.reserve(members.size());
  for (const std::string& m : members)
    weighted.emplace_back(RendezvousWeight(m, key), m);
  std::sort(weighted.begin(), weighted.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> out;
  out.reserve(weighted.size());
  for (auto& [w, m] : weighted) out.push_back(std::move(m));
  return out;
}

}  // namespace aims::collector::fleet
