#include "common/net/bearer_token.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

TEST(BearerTokenTest, NewTokensAreDistinctAndValid) {
  const std::string a = NewToken(), b = NewToken();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("aims_", 0), 0u) << a;
  EXPECT_EQ(a.size(), 5u + 43u) << a;  // 32 bytes, base64url without padding
  EXPECT_TRUE(ValidateToken(a, "token").ok());
  EXPECT_TRUE(IsSha256Hex(TokenSha256(a)));
  EXPECT_NE(TokenSha256(a), TokenSha256(b));
}

TEST(BearerTokenTest, HeaderParsing) {
  EXPECT_EQ(*BearerTokenFrom(""), "");
  EXPECT_EQ(*BearerTokenFrom("Bearer abc"), "abc");
  EXPECT_EQ(*BearerTokenFrom("bearer   abc "), "abc");
  EXPECT_FALSE(BearerTokenFrom("Basic abc").ok());
  EXPECT_FALSE(BearerTokenFrom("Bearer").ok());
  EXPECT_FALSE(BearerTokenFrom("abc").ok());
}

TEST(BearerTokenTest, SingleTokenCheck) {
  const std::string token = NewToken();
  const std::string digest = TokenSha256(token);
  EXPECT_TRUE(CheckBearerToken("", "").ok());  // no token required
  EXPECT_TRUE(CheckBearerToken("Bearer " + token, digest).ok());
  EXPECT_EQ(CheckBearerToken("", digest).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckBearerToken("Bearer " + token + "x", digest).message(),
            "invalid token");
  EXPECT_FALSE(SameDigest(digest, digest.substr(1)));
}

TEST(BearerTokenTest, TokenFilesAreCheckedWithTheFlagNamed) {
  testing::TempDir dir;
  EXPECT_EQ(ReadTokenFile(dir.File("none"), "token_file").status().message(),
            "--token_file: cannot read " + dir.File("none"));
  std::ofstream(dir.File("short")) << "abc\n";
  EXPECT_NE(ReadTokenFile(dir.File("short"), "token_file")
                .status()
                .message()
                .find("3 bytes, must be 16..512"),
            std::string::npos);
  std::ofstream(dir.File("spaces")) << "a token with spaces in it\n";
  EXPECT_FALSE(ReadTokenFile(dir.File("spaces"), "token_file").ok());
  const std::string token = NewToken();
  std::ofstream(dir.File("good")) << token << "\n";
  EXPECT_EQ(*ReadTokenFile(dir.File("good"), "token_file"), token);
}

}  // namespace
}  // namespace aims
