// `gitvault config check`: a broken gitvault.toml is reported problem by problem, each with
// its line, and a good one passes.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;

TEST(ConfigCheck, UnknownKeysWrongTypesAndBadValuesAreNamedWithTheirLines) {
  ScratchDir dir;
  testing::write_text(dir / "bad.toml",
                      "[[storage]]\n"                    // 1
                      "name = \"default\"\n"             // 2
                      "path = \"/srv/git\"\n"            // 3
                      "paht = \"/srv/typo\"\n"           // 4: unknown key
                      "[backup]\n"                       // 5
                      "path = \"/backups\"\n"            // 6
                      "[limits]\n"                       // 7
                      "parallel = \"four\"\n"            // 8: wrong type
                      "parallel_storage = 5000\n"        // 9: out of range
                      "[s3]\n"                           // 10
                      "part_size = 1024\n"               // 11: below 5 MiB
                      "[retain]\n"                       // 12: unknown table
                      "keep = 3\n"                       // 13
                      "[prune]\n"                        // 14
                      "keep_within = \"a month\"\n");       // 15: not a duration
  auto r = testing::gitvault({"config", "check", "--config", dir / "bad.toml"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const std::string f = dir / "bad.toml";
  EXPECT_NE(r.out.find(f + ":4: unknown key 'paht' in [[storage]]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(f + ":8: [limits] parallel must be an integer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(f + ":9: [limits] parallel_storage = 5000 is out of range"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(f + ":11: [s3] part_size = 1024 is out of range"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(f + ":12: unknown table or key 'retain'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(f + ":15: [prune] keep_within must be a duration"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("6 problems in " + f), std::string::npos) << r.out;

  testing::write_text(dir / "syntax.toml", "[backup]\npath = \"/b\"\n[s3\nregion = 1\n");
  auto s = testing::gitvault({"config", "check", "--config", dir / "syntax.toml", "--json"});
  EXPECT_EQ(s.exit_code, 1) << s.out;
  EXPECT_NE(s.out.find("\"line\":3"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("\"ok\":false"), std::string::npos) << s.out;

  // What only loading finds: a storage named twice.
  testing::write_text(dir / "twice.toml", "[[storage]]\nname = \"a\"\npath = \"/x\"\n[[storage]]\nname = \"a\"\npath = \"/y\"\n");
  auto t = testing::gitvault({"config", "check", "--config", dir / "twice.toml"});
  EXPECT_EQ(t.exit_code, 1) << t.out;
  EXPECT_NE(t.out.find("1 problem in"), std::string::npos) << t.out;

  testing::write_text(dir / "good.toml",
                      "[[storage]]\nname = \"default\"\npath = \"/srv/git\"\nhost = \"gitaly-1\"\n[backup]\npath = "
                      "\"/backups\"\nfull_every = \"7d\"\n[limits]\nparallel = 4\n[metrics]\ntextfile = \"/var/lib/node/gitvault.prom\"\n"
                      "[locks]\nwait = \"2h\"\n[prune]\nkeep_last = 14\nkeep_within = \"30d\"\n[verify]\nscratch = \"/var/tmp\"\n"
                      "[worker]\npath = \"/usr/bin/gitaly-backup\"\n");
  auto g = testing::gitvault({"config", "check", "--config", dir / "good.toml"});
  EXPECT_EQ(g.exit_code, 0) << g.out << g.err;
  EXPECT_NE(g.out.find(": ok"), std::string::npos) << g.out;
}

// Installation-wide settings live in the config: prune's retention, for a timer that runs
// `gitvault prune --config FILE` and nothing more.
TEST(ConfigKeys, PruneTakesItsRetentionFromTheConfig) {
  ScratchDir dir;
  testing::make_fixture_storage(dir / "storage", 5);
  testing::write_text(dir / "gitvault.toml", "[[storage]]\nname = \"default\"\npath = \"storage\"\n[backup]\npath = "
                                             "\"backups\"\n[prune]\nkeep_last = 1\n[locks]\nwait = \"1m\"\n");
  std::vector<std::pair<std::string, std::string>> env = {{"GITVAULT_FLAGS_DB", dir / "flags/flags.db"}};
  for (const char* id : {"b1", "b2"}) {
    auto b = testing::gitvault({"backup", "--config", dir / "gitvault.toml", "--id", id}, env);
    ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  }
  auto p = testing::gitvault({"prune", "--config", dir / "gitvault.toml"}, env);
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("removed backup b1"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("1 backups kept"), std::string::npos) << p.out;
}

// Not only `config check`: every command refuses a config with a table or key it does not
// know, before any work (exit 2, naming file, line and key) — a typo must not go unnoticed,
// and a misspelt [encryption] key must never end in backups written in the clear.
TEST(ConfigKeys, EveryCommandRefusesUnknownTablesAndKeysBeforeAnyWork) {
  ScratchDir dir;
  testing::make_fixture_storage(dir / "storage", 5);
  const std::string good = "[[storage]]\nname = \"default\"\npath = \"storage\"\n[backup]\npath = \"backups\"\n";
  testing::write_text(dir / "good.toml", good);
  std::vector<std::pair<std::string, std::string>> env = {{"GITVAULT_FLAGS_DB", dir / "flags/flags.db"}};
  auto b = testing::gitvault({"backup", "--config", dir / "good.toml", "--id", "b1"}, env);
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  struct Bad {
    std::string file, text, names;
  };
  const std::string key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
  std::vector<Bad> bads{
      {"typo.toml", good + "[limits]\nparralel = 4\n", ":7: unknown key 'parralel' in [limits]"},
      // a misspelt key of [encryption] must not leave a destination unsealed
      {"sealed.toml", good + "[encryption]\nrecipient = [\"" + key + "\"]\n", ":7: unknown key 'recipient' in [encryption]"},
      {"table.toml", good + "[retain]\nkeep = 3\n", ":6: unknown table or key 'retain'"},
  };
  for (const auto& bad : bads) {
    testing::write_text(dir / bad.file, bad.text);
    const std::string f = dir / bad.file;
    for (std::vector<std::string> cmd : {std::vector<std::string>{"backup", "--id", "b2"}, {"restore"},
                                         {"verify"}, {"backups"}, {"prune", "--keep-last", "1"}, {"drill", "--all"}}) {
      const std::string what = cmd[0];
      cmd.insert(cmd.end(), {"--config", f});
      auto r = testing::gitvault(cmd, env);
      EXPECT_EQ(r.exit_code, 2) << what << " " << bad.file << ": " << r.out << r.err;
      EXPECT_NE(r.err.find(f + bad.names), std::string::npos) << what << ": " << r.err;
    }
  }
  // nothing was done: no second backup, b1 still there
  EXPECT_FALSE(std::filesystem::exists(dir / "backups/+gitvault/backups/b2.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "backups/+gitvault/backups/b1.json"));
}

}  // namespace
}  // namespace gitvault
