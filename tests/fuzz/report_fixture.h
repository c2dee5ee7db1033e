// The reference data of the report fuzz target (report_fuzz.cc) and of the
// tool that makes its corpus (make_report_corpus.cc): events of a binary
// model with a numeric feature "age", a categorical "city" and an attribute
// "gender", and the profile built from them.
//
// Thread-safety: plain functions.
#ifndef AIMS_TESTS_FUZZ_REPORT_FIXTURE_H_
#define AIMS_TESTS_FUZZ_REPORT_FIXTURE_H_

#include <vector>

#include "aims/v1/profile.pb.h"
#include "common/summary/event.h"
#include "common/summary/profile_builder.h"

namespace aims::fuzz {

// `n` events; `shift` moves ages and flips some predictions (drift).
inline std::vector<Event> FixtureEvents(int n, int shift) {
  const char* cities[] = {"Paris", "Lyon", "Nice"};
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    Event e;
    FeatureValue age, city;
    age.kind = FeatureValue::Kind::kNumber;
    age.number = 20 + (i * 7 + shift) % 40;
    city.kind = FeatureValue::Kind::kCategory;
    city.category = cities[(i + shift) % 3];
    e.features = {{"age", age}, {"city", city}};
    e.attributes = {{"gender", i % 2 ? "f" : "m"}};
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = (i + shift / 10) % 2;
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = i % 3 == 0 ? 1 - e.prediction.number : e.prediction.number;
    e.score = (i % 10) / 10.0 + 0.05;
    e.latency_seconds = 0.001 * (1 + i % 17);
    events.push_back(e);
  }
  return events;
}

inline v1::ReferenceProfile FixtureProfile() {
  ProfileBuilder builder(ProfileBuildOptions{});
  for (const Event& e : FixtureEvents(200, 0)) builder.Add(e);
  v1::ModelRef model;
  model.set_name("fuzz");
  model.set_version("1");
  model.set_environment("any");
  return *builder.Build(model, v1::PROFILE_SOURCE_TRAINING_DATA, "fuzz");
}

}  // namespace aims::fuzz

#endif  // AIMS_TESTS_FUZZ_REPORT_FIXTURE_H_
