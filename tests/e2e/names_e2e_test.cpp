// Names that the file system and git accept but that are not plain text: every one is
// backed up and restored exactly, on both paths, and carried losslessly through JSON.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

const std::vector<std::string> kOddNames = {"caf\xe9.git", "esc\x1b[31m.git", "new\nline.git", "-dash.git",
                                            "with space.git", "gr\xe9oupe/tab\there.git", "plain.git"};

std::string q(const std::string& s) {  // single-quoted for sh, any bytes
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class Names : public ::testing::Test {
 protected:
  void SetUp() override { sh(std::string(GITVAULT_SOURCE_DIR) + "/tests/fixtures/make-odd-names.sh " + q(dir_ / "st")); }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  void flag(const std::string& value) { ASSERT_EQ(gv({"feature", "set", "gitaly_backup", value}).exit_code, 0); }
  std::string state(const std::string& repo) {
    return sh("git --git-dir=" + q(repo) + " show-ref --head; git --git-dir=" + q(repo) +
              " symbolic-ref -q HEAD; git --git-dir=" + q(repo) + " config gitlab.fullpath || true");
  }
  void expect_restored_exactly(const std::string& restored_dir) {
    for (const auto& n : kOddNames)
      EXPECT_EQ(state(dir_ / ("st/" + n)), state(restored_dir + "/" + n)) << printable(n);
  }
  ScratchDir dir_;
};

TEST_F(Names, EveryOddNameRoundTripsOnBothPathsUnderEitherFlag) {
  for (const std::string backup_flag : {"true", "false"}) {
    flag(backup_flag);
    std::string id = backup_flag == "true" ? "pipe" : "legacy";
    auto b = gv({"backup", "--storage", "default=" + (dir_ / "st"), "--path", dir_ / "b", "--id", id});
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
    json rec = parse_json_text(read_file(dir_ / ("b/+gitvault/backups/" + id + ".json")));
    EXPECT_EQ(rec["status"], "complete");
    std::set<std::string> names;
    for (const auto& r : rec["repositories"]) {
      names.insert(r["relative_path"].get<std::string>());
      EXPECT_EQ(r["status"], "ok") << r.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    EXPECT_EQ(names, std::set<std::string>(kOddNames.begin(), kOddNames.end()));
    for (const std::string restore_flag : {"true", "false"}) {
      flag(restore_flag);
      std::string target = dir_ / ("r-" + id + "-" + restore_flag);
      auto r = gv({"restore", "--storage", "default=" + target, "--path", dir_ / "b", "--id", id});
      ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
      expect_restored_exactly(target);
    }
  }
  auto v = gv({"verify", "--path", dir_ / "b", "--all", "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(Names, IncrementalNightsKeepOddNames) {
  auto full = gv({"backup", "--storage", "default=" + (dir_ / "st"), "--path", dir_ / "b", "--id", "n1"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  sh("cd " + q(dir_ / "st") + " && git --git-dir=" + q("caf\xe9.git") + " update-ref " + q("refs/heads/n\xe9w") +
     " refs/heads/main~1");
  auto night = gv({"backup", "--storage", "default=" + (dir_ / "st"), "--path", dir_ / "b", "--id", "n2", "--incremental"});
  ASSERT_EQ(night.exit_code, 0) << night.err;
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "r"), "--path", dir_ / "b", "--id", "n2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_restored_exactly(dir_ / "r");
}

// People see escapes, never raw control characters or invalid bytes; JSON carries the bytes.
TEST_F(Names, HumanOutputEscapesAndJsonIsLossless) {
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "st"), "--path", dir_ / "b", "--id", "h1"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(b.err.find('\x1b'), std::string::npos);
  EXPECT_TRUE(is_valid_utf8(b.out + b.err));
  EXPECT_NE(b.err.find("caf\\xe9.git"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("esc\\e[31m.git"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("new\\nline.git"), std::string::npos) << b.err;

  auto j = gv({"backup", "--storage", "default=" + (dir_ / "st"), "--path", dir_ / "b", "--id", "h2", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (start < j.err.size()) {
    std::size_t nl = j.err.find('\n', start);
    std::string line = j.err.substr(start, nl - start);
    start = nl == std::string::npos ? j.err.size() : nl + 1;
    if (line.empty() || line[0] != '{') continue;
    EXPECT_TRUE(is_valid_utf8(line));
    json x = parse_json_text(line);
    if (x.contains("relative_path")) seen.insert(x["relative_path"].get<std::string>());
  }
  EXPECT_EQ(seen, std::set<std::string>(kOddNames.begin(), kOddNames.end()));
}

// A problem verify finds in an odd-named repository is reported escaped.
TEST_F(Names, VerifyNamesAProblemInAnOddRepositoryEscaped) {
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "st"), "--path", dir_ / "b", "--id", "v1"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  json rec = parse_json_text(read_file(dir_ / "b/+gitvault/backups/v1.json"));
  std::string bundle;
  for (const auto& r : rec["repositories"])
    if (r["relative_path"] == "esc\x1b[31m.git") bundle = r["bundle"]["name"];
  ASSERT_FALSE(bundle.empty());
  sh("printf X | dd of=" + q(dir_ / ("b/" + bundle)) + " bs=1 seek=100 conv=notrunc 2>/dev/null");
  auto v = gv({"verify", "--path", dir_ / "b", "--id", "v1"});
  EXPECT_EQ(v.exit_code, 1) << v.out;
  EXPECT_EQ(v.out.find('\x1b'), std::string::npos) << printable(v.out);
  EXPECT_NE(v.out.find("esc\\e[31m.git"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("SHA-256 mismatch"), std::string::npos) << v.out;
}

TEST(Encoding, LosslessJsonAndPrintable) {
  json j = {{"name", "caf\xe9"}, {"list", {"ok", "\xff\xfe"}}, {"nested", {{"head", "refs/heads/\xe9"}}}};
  std::string text = to_json_text(j);
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_EQ(parse_json_text(text), j);
  EXPECT_EQ(to_json_text(json{{"a", "plain"}}), "{\"a\":\"plain\"}");
  EXPECT_EQ(printable("a\x1b" "b\nc\xe9\\d\xc3\xa9"), "a\\eb\\nc\\xe9\\\\d\xc3\xa9");
  EXPECT_EQ(base64_decode(base64_encode(std::string("\0\x01\xff", 3))), std::string("\0\x01\xff", 3));
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // a surrogate
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong
  EXPECT_THROW(base64_decode("abc"), std::exception);
}

}  // namespace
}  // namespace gitvault
