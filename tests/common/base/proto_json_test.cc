#include "common/base/proto_json.h"

#include <string>

#include "aims/v1/error.pb.h"
#include "aims/v1/event.pb.h"
#include "aims/v1/query.pb.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

TEST(ProtoJsonTest, PrintsZeroValuesAndProtoFieldNames) {
  v1::MetricValue value;
  value.set_metric("accuracy");
  const std::string json = ProtoToJson(value);
  // A metric of 0 must read as 0, not as absent.
  EXPECT_NE(json.find("\"value\":0"), std::string::npos) << json;
  EXPECT_NE(json.find("\"sample_size\""), std::string::npos) << json;
  EXPECT_EQ(json.find("sampleSize"), std::string::npos) << json;
  EXPECT_EQ(json.find('\n'), std::string::npos) << json;
}

TEST(ProtoJsonTest, JsonNamesForFormatsOfOthers) {
  v1::MetricValue value;
  value.set_sample_size(3);
  EXPECT_NE(ProtoToJson(value, JsonFieldNames::kJsonNames)
                .find("\"sampleSize\":\"3\""),
            std::string::npos);
}

TEST(ProtoJsonTest, SubmitResponseListsEmptyArrays) {
  v1::SubmitResponse response;
  response.set_accepted(0);
  EXPECT_EQ(ProtoToJson(response),
            R"({"accepted":0,"rejected":0,"errors":[],"warnings":[]})");
}

TEST(ProtoJsonTest, ErrorJsonEscapesAndStaysValidUtf8) {
  EXPECT_EQ(ErrorJson("bad \"x\"\n"), R"({"error":"bad \"x\"\n"})");
  // Invalid bytes end the message instead of reaching the printer.
  EXPECT_EQ(ErrorJson("name caf\xC3"), R"({"error":"name caf"})");
}

}  // namespace
}  // namespace aims
