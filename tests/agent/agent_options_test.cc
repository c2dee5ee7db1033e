// AgentOptions::Validate(): a model is required, the defaults pass, and each
// refusal names the flag, the value and the limit.
#include "agent/agent_options.h"

#include <string>

#include "gtest/gtest.h"

namespace aims::agent {
namespace {

AgentOptions Valid() {
  AgentOptions o;
  o.model.set_name("credit");
  o.model.set_version("v1");
  o.model.set_environment("default");
  return o;
}

// The message Validate() gives after `change` to Valid(); "" when OK.
template <typename Change>
std::string ErrorAfter(Change change) {
  AgentOptions o = Valid();
  change(o);
  return std::string(o.Validate().message());
}

TEST(AgentOptionsTest, DefaultsWithAModelPass) {
  EXPECT_TRUE(Valid().Validate().ok());
}

TEST(AgentOptionsTest, ModelIsRequiredAndNamedByItsFlags) {
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.model.clear_name(); }),
            "--model_name is required");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.model.clear_version(); }),
            "--model_version is required");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.model.set_version("v 1"); }),
            "--model_version: character ' ' not allowed (use [A-Za-z0-9._+-])");
  EXPECT_EQ(
      ErrorAfter([](AgentOptions& o) { o.model.set_environment("prod/eu"); }),
      "--environment: character '/' not allowed (use [A-Za-z0-9._-])");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.model.set_name(std::string(129, 'm'));
            }),
            "--model_name: 129 bytes, limit 128");
}

TEST(AgentOptionsTest, WindowAndTimesNameFlagValueAndLimit) {
  EXPECT_EQ(
      ErrorAfter([](AgentOptions& o) { o.window = absl::ZeroDuration(); }),
      "--window: 0s, must be 1s..1h");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.window = absl::Hours(2); }),
            "--window: 2h, must be 1s..1h");
  EXPECT_EQ(
      ErrorAfter([](AgentOptions& o) { o.allowed_lateness = absl::Hours(25); }),
      "--allowed_lateness: 25h, must be 0s..24h");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.max_open_windows = 1; }),
            "--max_open_windows: 1, must be 2..100000");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.intake.event.max_clock_skew = -absl::Seconds(1);
            }),
            "--max_clock_skew: -1s, must not be negative");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.intake.event.max_event_age = absl::ZeroDuration();
            }),
            "--max_event_age: 0s, must be at least 1s");
}

TEST(AgentOptionsTest, SliceKeysAndValuesAreBounded) {
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.summary.slice_keys = {"region", "channel"};
            }),
            "");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.summary.max_slice_values = 0; }),
            "--max_slice_values: 0, must be 1..1000");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.summary.slice_keys = {"region", "region"};
            }),
            "--slice_keys: 'region' given twice");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.summary.slice_keys = {""}; }),
            "--slice_keys: '', a key must be 1..128 bytes");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.summary.slice_keys = {"a", "b", "c", "d", "e",
                                      "f", "g", "h", "i"};
            }),
            "--slice_keys: 9 keys, must be at most 8");
}

TEST(AgentOptionsTest, CountsNameFlagValueAndRange) {
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.spool_max_bytes = 1000; }),
            "--spool_max_bytes: 1000, must be at least 65536");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.intake_threads = 0; }),
            "--intake_threads: 0, must be 1..64");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.intake_queue_capacity = 0; }),
            "--intake_queue_capacity: 0, must be 1..100000");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.grpc_max_in_flight = 10001; }),
            "--grpc_max_in_flight: 10001, must be 1..10000");
  EXPECT_EQ(
      ErrorAfter([](AgentOptions& o) { o.join.max_forwarded_labels = 0; }),
      "--max_forwarded_labels: 0, must be 1..10000000");
  // Pending predictions and forwarded labels go into intake log
  // checkpoints: at most a sixteenth of the log each (256 MiB by default).
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.join.max_pending_bytes = (16 << 20) + 1;
            }),
            "--max_pending_prediction_bytes: 16777217, must be 4096..16777216");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.intake_log_max_bytes = 64 << 20;
              o.join.max_pending_bytes = 1 << 20;
              o.join.max_forwarded_bytes = 8 << 20;
            }),
            "--max_forwarded_label_bytes: 8388608, must be 4096..4194304");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.reference_events = 1000001; }),
            "--reference_events: 1000001, must be 0..1000000");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.max_body_bytes = 100; }),
            "--max_body_bytes: 100, must be 1024..1073741824");
  EXPECT_EQ(
      ErrorAfter([](AgentOptions& o) { o.intake.max_events_per_batch = 0; }),
      "--max_events_per_batch: 0, must be 1..1000000");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.intake.event.max_prediction_id_bytes = 70000;
            }),
            "--max_prediction_id_bytes: 70000, must be 1..65536");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.summary.max_classes = 1; }),
            "--max_classes_per_window: 1, must be 2..10000");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.summary.max_groups_per_attribute = 1;
            }),
            "--max_groups_per_attribute: 1, must be 2..100000");
  EXPECT_EQ(
      ErrorAfter([](AgentOptions& o) { o.max_categories_per_feature = 0; }),
      "--max_categories_per_feature: 0, must be 1..10000000");
  // --spool_max_bytes=-1 wraps into the uint64_t and reads as given.
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.spool_max_bytes = static_cast<uint64_t>(int64_t{-1});
            }),
            "--spool_max_bytes: -1, must be at least 65536");
}

TEST(AgentOptionsTest, IntakeTokenDigestIsHex) {
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) { o.intake_token_sha256 = "abc"; }),
            "--intake_token_sha256: expected 64 lowercase hex digits (the "
            "SHA-256 of the token)");
  EXPECT_EQ(ErrorAfter([](AgentOptions& o) {
              o.intake_token_sha256 = std::string(64, 'a');
            }),
            "");
}

}  // namespace
}  // namespace aims::agent
