// The record codec (backup/record.h): a record written header first is read back entry by
// entry — equal to what was written — and damage between the entries is refused, naming the
// file; records written whole, before the header came first, still read.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "backup/record.h"
#include "base/encoding.h"
#include "base/error.h"
#include "base/files.h"
#include "destination/sink.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

BackupRecord three_repositories() {
  BackupRecord r;
  r.id = "20261205100000";
  r.status = BackupStatus::Partial;
  r.started_at = "2026-12-05T10:00:00Z";
  r.finished_at = "2026-12-05T10:00:05Z";
  r.storages = {"default"};
  for (const char* path : {"group/a.git", "group/b, with a comma.git", "group/c.git"}) {
    RepositoryRecord x;
    x.storage = "default";
    x.relative_path = path;
    x.project_path = std::string("group/") + path;
    x.status = ItemStatus::Failed;
    x.error = std::string("cannot read ") + path + ": \"quoted\", and a comma";
    r.repositories.push_back(x);
  }
  return r;
}

std::string written_text(testing::ScratchDir& dir, const BackupRecord& r) {
  LocalSink sink(dir / "bk");
  write_record(sink, r);
  sink.sync();
  return read_whole(sink, record_name(r.id));
}

TEST(RecordCodec, AHeaderFirstRecordReadsBackEntryByEntryAsWritten) {
  testing::ScratchDir dir;
  const BackupRecord r = three_repositories();
  const std::string text = written_text(dir, r);
  BackupRecord back = parse_record(text, "rec.json");
  EXPECT_EQ(back.id, r.id);
  EXPECT_EQ(back.status, BackupStatus::Partial);
  ASSERT_EQ(back.repositories.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.repositories[i].relative_path, r.repositories[i].relative_path);
    EXPECT_EQ(back.repositories[i].error, r.repositories[i].error);
    EXPECT_EQ(back.repositories[i].status, ItemStatus::Failed);
  }
  // no repositories at all
  BackupRecord none = r;
  none.repositories.clear();
  none.id = "20261205100001";
  EXPECT_TRUE(parse_record(written_text(dir, none), "none.json").repositories.empty());
}

TEST(RecordCodec, DamageBetweenEntriesIsRefusedNamingTheFile) {
  testing::ScratchDir dir;
  const std::string text = written_text(dir, three_repositories());
  const std::size_t first_end = text.find("},\n");
  ASSERT_NE(first_end, std::string::npos);
  std::string no_comma = text;
  no_comma.erase(first_end + 1, 1);  // "}\n{": the comma after the first entry gone
  try {
    parse_record(no_comma, "rec.json");
    FAIL() << "a missing comma was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corrupt);
    EXPECT_NE(std::string(e.what()).find("rec.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("entry 1"), std::string::npos) << e.what();
  }
  std::string garbage = text;
  garbage.replace(first_end + 3, 1, "x");  // the second entry no longer JSON
  EXPECT_THROW(parse_record(garbage, "rec.json"), Error);
  std::string cut = text.substr(0, text.size() - 3);  // truncated inside the end marker
  EXPECT_THROW(parse_record(cut, "rec.json"), Error);
}

TEST(RecordCodec, ARecordWrittenWholeBeforeTheHeaderCameFirstStillReads) {
  testing::ScratchDir dir;
  const std::string text = written_text(dir, three_repositories());
  // the same record as one JSON document with "repositories" first, as no header-first
  // writer puts it: read whole
  nlohmann::json j = parse_json_text(text);
  std::string whole = "{\"repositories\":" + j["repositories"].dump();
  for (auto& [k, v] : j.items())
    if (k != "repositories") whole += ",\"" + k + "\":" + v.dump();
  whole += "}\n";
  ASSERT_EQ(whole.find("\"repositories\":[\n"), std::string::npos);
  BackupRecord back = parse_record(whole, "old.json");
  ASSERT_EQ(back.repositories.size(), 3u);
  EXPECT_EQ(back.repositories[1].relative_path, "group/b, with a comma.git");
}

// `summary.needs` names a time after the one before it as "+seconds in base 36": a month of
// 15-minute backups' headers stay small, and reads back the ids as written.
TEST(RecordCodec, NeedsAfterATimeAreWrittenAsSecondsSinceItAndReadBackAsIds) {
  testing::ScratchDir dir;
  BackupRecord r = three_repositories();
  r.id = "20261205120000";
  const std::vector<std::string> needs = {"20261101000000", "20261101001500", "20261101003000", "20261102000000",
                                          "20261332000000", "base-full"};  // not a time, not a time
  r.repositories.clear();
  for (const auto& id : needs) {
    RepositoryRecord x;
    x.storage = "default";
    x.relative_path = "group/" + id + ".git";
    x.status = ItemStatus::Failed;
    x.chain_in = id;  // a step whose earlier steps another backup's chain file holds
    x.step = 2;
    r.repositories.push_back(x);
  }
  const std::string text = written_text(dir, r);
  const std::string header = text.substr(0, text.find('\n'));
  EXPECT_NE(header.find("\"needs\":\"20261101000000 +p0 +p0 +1ta0 20261332000000 base-full\""), std::string::npos)
      << header;
  LocalSink sink(dir / "bk");
  const BackupRecord back = read_record_header(sink, r.id);
  ASSERT_TRUE(back.summary.has_value());
  EXPECT_EQ(back.summary->needs, needs);
  EXPECT_EQ(summarize(parse_record(text, "rec.json")).needs, needs);
  // "+" with no time before it, or not base 36: refused, naming the file
  for (const char* bad : {"+p0 20261101000000", "base-full +p0", "20261101000000 +p!", "20261101000000 +"}) {
    std::string damaged = text;
    damaged.replace(damaged.find("20261101000000 +p0 +p0 +1ta0 20261332000000 base-full"), 53, bad);
    try {
      parse_record_header(damaged, "rec.json");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rec.json"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace gitvault
