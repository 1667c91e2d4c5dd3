// Prune and restore against a hostile backup directory: symbolic links planted inside it,
// records naming paths that escape, a plan that can never be finished.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/files.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using testing::sh;

class PruneSafety : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_fixture_storage(dir_ / "storage", 20);
    for (const char* id : {"b1", "b2"}) {
      auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", dir_ / "backups", "--id", id});
      ASSERT_EQ(b.exit_code, 0) << b.err;
    }
    sh("mkdir -p " + (dir_ / "elsewhere") + " && echo precious > " + (dir_ / "elsewhere/x"));
  }
  testing::CommandResult gv(std::vector<std::string> args) {
    return testing::gitvault(args, {{"GITVAULT_FLAGS_DB", dir_ / "flags/flags.db"}});
  }
  // A complete record whose one repository's bundle is `bundle`: an old one (prune will want
  // to remove it), or the newest (kept) one whose chain names backup `needs` (so prune reads it).
  void plant_record(const std::string& id, const std::string& bundle, const std::string& started_at,
                    const std::string& needs = "") {
    json rec = parse_json_text(read_file(dir_ / "backups/+gitvault/backups/b1.json"));
    rec["id"] = id;
    rec["started_at"] = started_at;
    json repo = rec["repositories"][0];
    repo["bundle"] = {{"name", bundle}, {"sha256", std::string(64, '0')}, {"size", 8}};
    rec["repositories"] = json::array({repo});
    if (!needs.empty()) rec["summary"]["needs"] = needs;
    testing::write_text(dir_ / ("backups/+gitvault/backups/" + id + ".json"), rec.dump());
  }
  void plant_old_record(const std::string& id, const std::string& bundle) {
    plant_record(id, bundle, "2001-01-01T00:00:00.000Z");
  }
  std::size_t records() { return sh("ls " + (dir_ / "backups/+gitvault/backups") + " | wc -l").size() ? std::stoul(sh("ls " + (dir_ / "backups/+gitvault/backups") + " | wc -l")) : 0; }
  ScratchDir dir_;
};

// Prune finds what it removes in the listing, which never looks through a link: a removed
// record naming a file through one is never read, a link with a backup file's name is
// removed as a link, and what they point at stays.
TEST_F(PruneSafety, ASymbolicLinkInsideTheBackupDirectoryIsNeverFollowed) {
  sh("ln -s " + (dir_ / "elsewhere") + " " + (dir_ / "backups/default/evil"));
  sh("mkdir -p " + (dir_ / "backups/default/group") + " && ln -s " + (dir_ / "elsewhere/x") + " " +
     (dir_ / "backups/default/group/killed.bundle"));
  plant_old_record("old", "default/evil/x");
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_EQ(read_file(dir_ / "elsewhere/x"), "precious\n");
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/backups/old.json"));
  EXPECT_FALSE(std::filesystem::is_symlink(dir_ / "backups/default/group/killed.bundle"));  // the link went
  EXPECT_TRUE(std::filesystem::is_symlink(dir_ / "backups/default/evil"));  // not gitvault's: left alone
  EXPECT_NE(p.err.find("cannot have written left alone"), std::string::npos) << p.err;
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--all"}).exit_code, 0);
}

// A kept record that prune must read (it needs a removed backup's files) and that names a
// path escaping the directory refuses the whole prune; a removed one is not read at all.
TEST_F(PruneSafety, ARecordNamingAnEscapingPathRefusesThePruneWithNothingDeleted) {
  plant_record("b3", "../../x", "2100-01-01T00:00:00.000Z", "b1");
  std::size_t before = records();
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  EXPECT_EQ(p.exit_code, 1) << p.out << p.err;
  EXPECT_NE(p.err.find("prune refused, nothing removed"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("invalid backup file name '../../x'"), std::string::npos) << p.err;
  EXPECT_EQ(records(), before);
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/prune.json"));

  sh("rm " + (dir_ / "backups/+gitvault/backups/b3.json"));
  plant_old_record("old", "../../x");
  auto q = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  EXPECT_EQ(q.exit_code, 0) << q.out << q.err;
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/backups/old.json"));
  EXPECT_EQ(gv({"restore", "--storage", "default=" + (dir_ / "r"), "--path", dir_ / "backups"}).exit_code, 0);
}

TEST_F(PruneSafety, APlanThatCannotBeFinishedIsSetAsideNotReplayedForEver) {
  testing::write_text(dir_ / "backups/+gitvault/prune.json", "{\"remove\":[\"b1\"],\"files\":[\"../../x\"]}\n");
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.err.find("could not be finished"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("set aside as"), std::string::npos) << p.err;
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/prune.json"));
  EXPECT_NE(sh("ls " + (dir_ / "backups/+gitvault")).find("prune-failed-"), std::string::npos);
  // The prune itself went ahead: b1 went, b2 restores.
  EXPECT_FALSE(path_exists(dir_ / "backups/+gitvault/backups/b1.json"));
  auto again = gv({"prune", "--path", dir_ / "backups", "--keep-last", "1"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.err.find("could not be finished"), std::string::npos) << again.err;
  EXPECT_EQ(gv({"restore", "--storage", "default=" + (dir_ / "r"), "--path", dir_ / "backups"}).exit_code, 0);
}

TEST_F(PruneSafety, RestoreAndVerifyRefuseToReadThroughASymbolicLink) {
  // b2's repository directory for group/project replaced by a link to a copy elsewhere.
  json rec = parse_json_text(read_file(dir_ / "backups/+gitvault/backups/b2.json"));
  std::string bundle;
  for (const auto& r : rec["repositories"])
    if (r["relative_path"] == "group/project.git") bundle = r["bundle"]["name"];
  ASSERT_FALSE(bundle.empty());
  std::string repo_dir = bundle.substr(0, bundle.rfind('/'));
  sh("cp -a " + (dir_ / ("backups/" + repo_dir)) + " " + (dir_ / "copy") + " && rm -rf " +
     (dir_ / ("backups/" + repo_dir)) + " && ln -s " + (dir_ / "copy") + " " + (dir_ / ("backups/" + repo_dir)));
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "r"), "--path", dir_ / "backups", "--id", "b2"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("group/project.git"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("symbolic link"), std::string::npos) << r.out;
  EXPECT_FALSE(path_exists(dir_ / "r/group/project.git"));
  EXPECT_TRUE(path_exists(dir_ / "r/group/project.wiki.git"));  // the rest restored
  auto v = gv({"verify", "--path", dir_ / "backups", "--id", "b2"});
  EXPECT_EQ(v.exit_code, 1) << v.out;
  EXPECT_NE(v.out.find("symbolic link"), std::string::npos) << v.out;
}

// Killed runs and failed repositories leave files no record names; prune reclaims them.
TEST_F(PruneSafety, FilesNamedByNoRecordAreReclaimed) {
  sh("mkdir -p " + (dir_ / "backups/zz-killed/default/group") + " && head -c 100000 /dev/urandom > " +
     (dir_ / "backups/zz-killed/default/group/project.bundle"));
  auto p = gv({"prune", "--path", dir_ / "backups", "--keep-last", "2"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.out.find("1 named by no backup"), std::string::npos) << p.out;
  EXPECT_FALSE(path_exists(dir_ / "backups/zz-killed"));
  EXPECT_EQ(gv({"verify", "--path", dir_ / "backups", "--all"}).exit_code, 0);
}

}  // namespace
}  // namespace gitvault
