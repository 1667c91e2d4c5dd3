// Immutable backups (#21) on the real Ceph RADOS Gateway of scripts/s3-server, in its
// versioned bucket with Object Lock: every object a backup writes is locked, on both paths,
// and the keys that wrote it cannot delete it; a lock asked of a bucket without Object Lock
// is refused before anything is written.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/system.h"
#include "s3/client.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/storage_fixture.h"
#include "tests/support/test_support.h"

namespace gitvault {
namespace {

using testing::ScratchDir;
using testing::sh;

class ImmutableBackups : public testing::StorageFixture {
 protected:
  void SetUp() override { testing::make_fixture_storage(dir_ / "storage", 20); }
};

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_lock_object(const std::string& name) {
  return name.rfind("+gitvault/holders/", 0) == 0 || name.rfind("+gitvault/pins/", 0) == 0 ||
         name.rfind("+gitvault/lock.exclusive", 0) == 0;
}

// A commit pushed to group/project.git of the storage under `dir`, on a new branch.
void push_branch(const std::string& dir, const std::string& branch) {
  sh("cd " + dir + " && . " + testing::fixtures_dir() + "/git-env.sh && rm -rf w && git clone -q " +
     "storage/group/project.git w && cd w && echo " + branch + " > " + branch + ".txt && git add . && git commit -qm " +
     branch + " && git push -q origin HEAD:" + branch);
}

TEST_F(ImmutableBackups, EveryObjectOfABackupIsLockedOnBothPathsAndTheWritersKeysCannotDeleteIt) {
  GITVAULT_REQUIRE_S3_LOCKED(url, "object_lock=governance&lock_for=2h");
  const std::string storage = "default=" + (dir_ / "storage");
  const std::int64_t t0 = now_seconds();
  flag("false");
  auto full = gv({"backup", "--storage", storage, "--path", url, "--id", "l1"});
  ASSERT_EQ(full.exit_code, 0) << full.out << full.err;
  // a commit pushed during the day: the night writes an increment
  sh("cd " + dir_.path() + " && . " + testing::fixtures_dir() + "/git-env.sh && git clone -q storage/group/project.git w "
     "&& cd w && echo night > night.txt && git add night.txt && git commit -qm night && git push -q origin HEAD:locked-night");
  flag("true");
  auto night = gv({"backup", "--storage", storage, "--path", url, "--id", "p2", "--incremental", "--previous-id", "l1"});
  ASSERT_EQ(night.exit_code, 0) << night.out << night.err;
  const std::int64_t t1 = now_seconds();

  s3::Url u = s3::parse_url(url);
  s3::Client client(u.endpoint, s3::credentials_from_environment());
  std::size_t locked = 0, bundles = 0;
  bool night_bundle = false;
  std::string a_bundle;
  for (const auto& o : client.list(u.prefix + "/").objects) {
    const std::string name = o.key.substr(u.prefix.size() + 1);
    if (is_lock_object(name)) continue;
    auto r = client.get_retention(o.key);
    ASSERT_TRUE(r.has_value()) << name << " was written without a lock";
    EXPECT_EQ(r->mode, "GOVERNANCE") << name;
    EXPECT_GE(r->until, t0 + 7200 - 60) << name;
    // the night's own objects for its lock; the full backup's, which the night needs, extended
    // by it to twice the lock (ImmutableBackups.ANightExtends…)
    EXPECT_LE(r->until, t1 + (name.find("p2") == std::string::npos ? 2 : 1) * 7200 + 60) << name;
    ++locked;
    if (name.ends_with(".bundle")) {
      ++bundles;
      night_bundle = night_bundle || name.find("/p2/") != std::string::npos;
      a_bundle = o.key;
    }
  }
  EXPECT_GE(bundles, 3u);          // the full bundles of the repositories that have refs
  EXPECT_TRUE(night_bundle) << "the night's increment was not listed";
  EXPECT_GT(locked, bundles);  // records, refs, manifests too

  // The keys that wrote the backup cannot remove a locked version.
  s3::Response head = client.send("HEAD", a_bundle, {}, {}, "");
  const std::string version = head.header("x-amz-version-id");
  ASSERT_FALSE(version.empty());
  s3::Response del = client.send("DELETE", a_bundle, {{"versionId", version}}, {}, "");
  EXPECT_EQ(del.status, 403) << del.body;
  EXPECT_NE(del.body.find("AccessDenied"), std::string::npos) << del.body;

  // and what they wrote restores exactly; prune and a deep verify work on the locked bucket
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "restored"), "--path", url});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(refs_of_all(dir_ / "restored"), refs_of_all(dir_ / "storage"));
  auto p = gv({"prune", "--path", url, "--keep-last", "1"});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  auto v = gv({"verify", "--path", url, "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// The ledger's entries ("+gitvault/locks/<id>.<until>") of one backup, latest date.
std::int64_t ledger_date(s3::Client& client, const s3::Url& u, const std::string& id) {
  std::int64_t latest = 0;
  for (const auto& o : client.list(u.prefix + "/+gitvault/locks/" + id + ".").objects)
    latest = std::max<std::int64_t>(latest, std::stoll(o.key.substr(o.key.rfind('.') + 1)));
  return latest;
}

std::string bundle_of(s3::Client& client, const s3::Url& u, const std::string& id) {
  for (const auto& o : client.list(u.prefix + "/").objects)
    if (o.key.ends_with(".bundle") && o.key.find("/" + id + "/") != std::string::npos) return o.key;
  return "";
}

// A night that builds on earlier steps keeps them locked as long as itself: it extends the
// objects of each backup it needs whose lock falls short (to twice the lock from its start),
// and a night soon after, whose lock those extensions cover, extends nothing again.
TEST_F(ImmutableBackups, ANightExtendsTheLocksOfTheStepsItNeedsOnlyWhenTheyFallShort) {
  GITVAULT_REQUIRE_S3_LOCKED(url, "object_lock=governance&lock_for=10s");
  s3::Url u = s3::parse_url(url);
  s3::Client client(u.endpoint, s3::credentials_from_environment());
  const std::string storage = "default=" + (dir_ / "storage");
  auto push = [&](const std::string& branch) { push_branch(dir_.path(), branch); };
  flag("true");
  ASSERT_EQ(gv({"backup", "--storage", storage, "--path", url, "--id", "n1"}).exit_code, 0);
  const std::string base = bundle_of(client, u, "n1");
  ASSERT_FALSE(base.empty());
  const std::int64_t first = client.get_retention(base)->until;
  // its ledger entry: no later than the lock its objects were written with
  EXPECT_GT(ledger_date(client, u, "n1"), 0);
  EXPECT_LE(ledger_date(client, u, "n1"), first);

  std::this_thread::sleep_for(std::chrono::seconds(3));  // n1's lock now ends before n2's would
  push("two");
  auto n2 = gv({"backup", "--storage", storage, "--path", url, "--id", "n2", "--incremental"});
  ASSERT_EQ(n2.exit_code, 0) << n2.out << n2.err;
  EXPECT_NE(n2.err.find("earlier backup(s) this one needs extended (n1)"), std::string::npos) << n2.err;
  const std::int64_t extended = client.get_retention(base)->until;
  const std::int64_t n2_own = ledger_date(client, u, "n2");
  EXPECT_GE(extended, n2_own + 10 - 1) << "n1's bundle is not locked past n2's own lock by a lock's length";
  EXPECT_GT(extended, first);
  EXPECT_EQ(ledger_date(client, u, "n1"), extended);

  push("three");
  auto n3 = gv({"backup", "--storage", storage, "--path", url, "--id", "n3", "--incremental"});
  ASSERT_EQ(n3.exit_code, 0) << n3.out << n3.err;
  EXPECT_EQ(client.get_retention(base)->until, extended) << "n1 extended again within its extension";
  EXPECT_EQ(n3.err.find("(n1"), std::string::npos) << n3.err;
  const std::string step2 = bundle_of(client, u, "n2");
  ASSERT_FALSE(step2.empty());
  EXPECT_GE(client.get_retention(step2)->until, ledger_date(client, u, "n3"));  // n2's step covers n3's lock

  // A full backup needs none of them: prune removes them (a delete marker each: the locked
  // versions stay until their locks end) and says until when, from their ledger entries,
  // which stay until then (PruneRemovesOldVersions… sees them go once the dates pass).
  ASSERT_EQ(gv({"backup", "--storage", storage, "--path", url, "--id", "n4"}).exit_code, 0);
  auto p = gv({"prune", "--path", url, "--keep-last", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("removed backup n1 (Object Lock keeps its objects until "), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("3 removed backups stay locked by Object Lock until "), std::string::npos) << p.out;
  for (const char* gone : {"n1", "n2", "n3"}) EXPECT_GT(ledger_date(client, u, gone), now_seconds()) << gone;
  EXPECT_GT(ledger_date(client, u, "n4"), 0);
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "restored"), "--path", url});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(refs_of_all(dir_ / "restored"), refs_of_all(dir_ / "storage"));
}

std::size_t versions_of_backup(s3::Client& client, const s3::Url& u, const std::string& id) {
  std::size_t n = 0;
  for (const auto& v : client.list_versions(u.prefix + "/"))
    if (v.key.find("/" + id + "/") != std::string::npos || v.key.find("/" + id + ".") != std::string::npos) ++n;
  return n;
}

// On a versioned bucket a DELETE only adds a delete marker: prune leaves the versions of what
// it removes while their locks hold (counted, never a failure), and deletes them for good on
// a later run once the locks have ended.
TEST_F(ImmutableBackups, PruneRemovesOldVersionsOnceTheirLocksEndAndCountsTheLockedOnes) {
  GITVAULT_REQUIRE_S3_LOCKED(url, "object_lock=governance&lock_for=10s");
  s3::Url u = s3::parse_url(url);
  s3::Client client(u.endpoint, s3::credentials_from_environment());
  const std::string storage = "default=" + (dir_ / "storage");
  ASSERT_EQ(gv({"backup", "--storage", storage, "--path", url, "--id", "old"}).exit_code, 0);
  const auto old_written = std::chrono::steady_clock::now();  // its every object locked for 10 s from before now
  ASSERT_EQ(gv({"backup", "--storage", storage, "--path", url, "--id", "new", "--independent"}).exit_code, 0);
  const std::size_t written = versions_of_backup(client, u, "old");
  ASSERT_GT(written, 5u);

  auto first = gv({"prune", "--path", url, "--keep-last", "1", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  nlohmann::json summary;
  std::istringstream lines(first.out);
  for (std::string line; std::getline(lines, line);)
    if (auto j = nlohmann::json::parse(line); j["event"] == "summary") summary = j;
  EXPECT_EQ(summary["remove"], nlohmann::json::array({"old"})) << first.out;
  EXPECT_GE(summary["old_versions_locked"].get<std::size_t>(), written - 1) << first.out;  // all still locked
  // (what is removed at once: old versions of lock holders, which are never locked)
  EXPECT_GE(versions_of_backup(client, u, "old"), written);  // kept, under delete markers
  // and until when, from the lock ledger: now, and on a later prune that removes nothing
  ASSERT_TRUE(summary["locked_until"].contains("old")) << first.out;
  const std::string until = summary["locked_until"]["old"];
  EXPECT_GT(parse_rfc3339(until), now_seconds()) << until;
  auto later = gv({"prune", "--path", url, "--keep-last", "1", "--dry-run"});
  ASSERT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_NE(later.out.find("1 removed backup stays locked by Object Lock until " + until), std::string::npos)
      << later.out;

  std::this_thread::sleep_until(old_written + std::chrono::seconds(12));  // its locks have ended
  auto second = gv({"prune", "--path", url, "--keep-last", "1"});
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("old versions of removed objects whose Object Lock had ended"), std::string::npos)
      << second.out;
  EXPECT_EQ(versions_of_backup(client, u, "old"), 0u) << "versions or delete markers of the removed backup remain";
  EXPECT_EQ(second.out.find("stays locked"), std::string::npos) << second.out;
  auto r = gv({"restore", "--storage", "default=" + (dir_ / "restored"), "--path", url});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(refs_of_all(dir_ / "restored"), refs_of_all(dir_ / "storage"));
}

// The attack the locks are for: with the backing-up host's own keys, everything under the
// prefix is deleted, the newest record and a bundle overwritten with new versions. The
// bucket then holds nothing gitvault can use as it is — but `--as-of` a moment before the
// attack reads the locked versions, and every repository comes back exactly, on both engines.
TEST_F(ImmutableBackups, AfterAnAttackWithTheHostsKeysRestoreAsOfBeforeItBringsEveryRepositoryBack) {
  GITVAULT_REQUIRE_S3_LOCKED(url, "object_lock=governance&lock_for=1h");
  const std::string storage = "default=" + (dir_ / "storage");
  flag("false");
  ASSERT_EQ(gv({"backup", "--storage", storage, "--path", url, "--id", "a1"}).exit_code, 0);
  flag("true");
  sh("cd " + dir_.path() + " && . " + testing::fixtures_dir() + "/git-env.sh && git clone -q storage/group/project.git w "
     "&& cd w && echo day > day.txt && git add day.txt && git commit -qm day && git push -q origin HEAD:day");
  const std::string before_attack_refs = refs_of_all(dir_ / "storage");
  ASSERT_EQ(gv({"backup", "--storage", storage, "--path", url, "--id", "a2", "--incremental"}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const std::string moment = format_rfc3339(now_seconds());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));

  // The attack, with the keys the host backs up with.
  s3::Url u = s3::parse_url(url);
  s3::Client client(u.endpoint, s3::credentials_from_environment());
  std::string a_bundle;
  for (const auto& o : client.list(u.prefix + "/").objects)
    if (o.key.ends_with(".bundle") && a_bundle.empty()) a_bundle = o.key;
  client.put(u.prefix + "/+gitvault/backups/a2.json", "{\"ransom\": true}\n");
  client.put(a_bundle, "encrypted by ransomware");
  std::vector<std::string> keys;
  for (const auto& o : client.list(u.prefix + "/").objects) keys.push_back(o.key);
  client.remove_many(keys);
  ASSERT_TRUE(client.list(u.prefix + "/").objects.empty());
  auto now = gv({"restore", "--storage", "default=" + (dir_ / "nothing"), "--path", url});
  EXPECT_NE(now.exit_code, 0) << "the bucket as it is now has nothing to restore";

  // As of before the attack: both backups are there; the restore is exact, on both engines.
  auto listed = gv({"backups", "--path", url, "--as-of", moment});
  ASSERT_EQ(listed.exit_code, 0) << listed.out << listed.err;
  EXPECT_NE(listed.out.find("a1"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("a2"), std::string::npos) << listed.out;
  EXPECT_NE(listed.err.find("changed or removed since then, not read"), std::string::npos) << listed.err;
  EXPECT_NE(listed.err.find("+gitvault/backups/a2.json"), std::string::npos) << listed.err;
  for (const char* engine : {"false", "true"}) {
    flag(engine);
    const std::string target = dir_ / (std::string("restored-") + engine);
    auto r = gv({"restore", "--storage", "default=" + target, "--path", url, "--as-of", moment});
    ASSERT_EQ(r.exit_code, 0) << engine << r.out << r.err;
    EXPECT_EQ(refs_of_all(target), before_attack_refs) << engine;
  }
  auto v = gv({"verify", "--path", url, "--as-of", moment, "--deep"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // A local directory keeps no versions to read.
  auto local = gv({"backups", "--path", dir_ / "local", "--as-of", moment});
  EXPECT_EQ(local.exit_code, 2) << local.err;
  EXPECT_NE(local.err.find("--as-of reads object versions"), std::string::npos) << local.err;
}

// What a lock costs a quiet night: nothing per repository. Once the night before has
// extended the full backup's locks, a quiet night on a locked bucket makes only a few more
// requests than on a plain one (the ledger's listing, the chain files', its own entry).
TEST_F(ImmutableBackups, AQuietNightOnALockedBucketMakesNoRequestPerRepository) {
  GITVAULT_REQUIRE_S3(plain);
  GITVAULT_REQUIRE_S3_LOCKED(locked, "");
  auto quiet_night_requests = [&](const std::string& url, const std::string& extra) {
    const s3::Url where = s3::parse_url(url);
    testing::FaultProxy proxy(testing::FaultProxy::port_of(where.endpoint.url), 0);
    const std::string via = proxy.s3_url(where.endpoint.bucket, where.prefix, extra);
    int requests = 0;
    for (int i = 0; i < 3; ++i) {  // full, a night that extends, a quiet night
      const int before = proxy.requests();
      auto b = gv({"backup", "--incremental", "--storage", "default=" + (dir_ / "storage"), "--path", via});
      EXPECT_EQ(b.exit_code, 0) << b.out << b.err;
      requests = proxy.requests() - before;
    }
    return requests;
  };
  const int unlocked = quiet_night_requests(plain, "");
  const int with_locks = quiet_night_requests(locked, "&object_lock=governance&lock_for=1h");
  const std::size_t repositories =
      std::stoul(sh("find " + (dir_ / "storage") + " -name '*.git' -type d -prune | wc -l"));
  ASSERT_GE(repositories, 6u);
  EXPECT_LE(with_locks, unlocked + 5) << unlocked << " requests unlocked, " << with_locks << " locked, "
                                      << repositories << " repositories";
}


// The requests Object Lock added — GetObjectLockConfiguration, retention on PUTs and
// multipart uploads, PutObjectRetention, ListObjectVersions, versioned GETs and DELETEs —
// meet the fault proxy's 503s, 500s, dropped connections and cut-off answers (every 5th
// request), and every command still does exactly what it does without them.
TEST_F(ImmutableBackups, ThroughInjectedFaultsLocksExtensionsPruneAndAsOfRestoreAllSucceed) {
  GITVAULT_REQUIRE_S3_LOCKED(direct, "object_lock=governance&lock_for=10s");
  s3::Url u = s3::parse_url(direct);
  s3::Client client(u.endpoint, s3::credentials_from_environment());
  testing::FaultProxy proxy(testing::FaultProxy::port_of(u.endpoint.url), 5);
  const std::string url = proxy.s3_url(u.endpoint.bucket, u.prefix, "&object_lock=governance&lock_for=10s");
  const std::string storage = "default=" + (dir_ / "storage");
  const std::string original = refs_of_all(dir_ / "storage");
  flag("false");
  auto f1 = gv({"backup", "--storage", storage, "--path", url, "--id", "f1"});
  ASSERT_EQ(f1.exit_code, 0) << f1.out << f1.err;
  const std::string base = bundle_of(client, u, "f1");
  ASSERT_FALSE(base.empty());
  const std::int64_t first = client.get_retention(base)->until;
  std::this_thread::sleep_for(std::chrono::seconds(3));  // f1's lock now ends before f2's would
  sh("cd " + dir_.path() + " && . " + testing::fixtures_dir() + "/git-env.sh && git clone -q storage/group/project.git w "
     "&& cd w && echo f2 > f2.txt && git add f2.txt && git commit -qm f2 && git push -q origin HEAD:faulty-night");
  flag("true");  // the pipeline's nights are incremental (the legacy path writes full bundles)
  auto f2 = gv({"backup", "--storage", storage, "--path", url, "--id", "f2", "--incremental"});
  ASSERT_EQ(f2.exit_code, 0) << f2.out << f2.err;
  EXPECT_GT(client.get_retention(base)->until, first + 5) << "f1's objects were not extended\n" << f2.out << f2.err;
  const std::string after_f2 = refs_of_all(dir_ / "storage");
  const std::string moment = format_rfc3339(now_seconds());
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // a later night the restore must read past, then a prune that removes f1's record only
  sh("cd " + dir_.path() + "/w && echo f3 > f3.txt && git add f3.txt && git commit -qm f3 && git push -q origin "
     "HEAD:later-night");
  auto f3 = gv({"backup", "--storage", storage, "--path", url, "--id", "f3", "--incremental"});
  ASSERT_EQ(f3.exit_code, 0) << f3.out << f3.err;
  auto p = gv({"prune", "--path", url, "--keep-last", "2", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  for (const char* engine : {"true", "false"}) {
    flag(engine);
    const std::string into = dir_ / (std::string("as-of-") + engine);
    auto r = gv({"restore", "--storage", "default=" + into, "--path", url, "--as-of", moment});
    ASSERT_EQ(r.exit_code, 0) << engine << "\n" << r.out << r.err;
    EXPECT_EQ(refs_of_all(into), after_f2) << "gitaly_backup=" << engine;
  }
  EXPECT_NE(after_f2, original);
  EXPECT_GT(proxy.answered_503(), 0);
  EXPECT_GT(proxy.answered_500(), 0);
  EXPECT_GT(proxy.closed_before_forwarding(), 0);
  EXPECT_GT(proxy.cut_off_answers(), 0);
}

// The keys of scripts/s3-server's second user, under the bucket policy of
// docs/append-only-policy.json: they may write and read, delete only leases, and never delete
// a version, bypass a lock or change the bucket's policy, versioning or lock.
std::vector<std::pair<std::string, std::string>> append_only_keys() {
  const char* id = std::getenv("GITVAULT_TEST_S3_APPEND_ONLY_KEY_ID");
  const char* secret = std::getenv("GITVAULT_TEST_S3_APPEND_ONLY_SECRET");
  if (!id || !secret) return {};
  return {{"AWS_ACCESS_KEY_ID", id}, {"AWS_SECRET_ACCESS_KEY", secret}};
}

// Every backup path — legacy and pipeline, full and incremental nights, a lock extension —
// runs with keys that cannot delete or replace what a backup wrote, and writes every name
// once; the same keys cannot destroy a backup; prune runs with the owner's keys.
TEST_F(ImmutableBackups, AppendOnlyKeysRunEveryBackupPathAndCannotDestroyABackup) {
  GITVAULT_REQUIRE_S3_LOCKED(url, "object_lock=governance&lock_for=10s");
  auto keys = append_only_keys();
  ASSERT_FALSE(keys.empty()) << "scripts/s3-server exports no append-only keys";
  keys.emplace_back("GITVAULT_FLAGS_DB", dir_ / "flags/flags.db");
  auto writer = [&](std::vector<std::string> args) { return testing::gitvault(args, keys); };
  const std::string storage = "default=" + (dir_ / "storage");
  auto push = [&](const std::string& branch) { push_branch(dir_.path(), branch); };
  flag("false");
  auto full = writer({"backup", "--storage", storage, "--path", url, "--id", "a1"});
  ASSERT_EQ(full.exit_code, 0) << full.out << full.err;
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a1's lock now ends before a2's would
  push("two");
  flag("true");
  auto night = writer({"backup", "--storage", storage, "--path", url, "--id", "a2", "--incremental"});
  ASSERT_EQ(night.exit_code, 0) << night.out << night.err;
  EXPECT_NE(night.err.find("earlier backup(s) this one needs extended (a1)"), std::string::npos) << night.err;
  push("three");
  flag("false");
  auto legacy_night = writer({"backup", "--storage", storage, "--path", url, "--id", "a3", "--incremental"});
  ASSERT_EQ(legacy_night.exit_code, 0) << legacy_night.out << legacy_night.err;
  flag("true");
  auto quiet = writer({"backup", "--storage", storage, "--path", url, "--id", "a4", "--incremental"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.out << quiet.err;

  // Every name was written once: one version each, no +latest.toml (docs/object-storage.md).
  s3::Url u = s3::parse_url(url);
  s3::Client owner(u.endpoint, s3::credentials_from_environment());
  std::map<std::string, int> versions;
  for (const auto& v : owner.list_versions(u.prefix + "/")) {
    const std::string name = v.key.substr(u.prefix.size() + 1);
    if (!is_lock_object(name)) ++versions[name];
  }
  ASSERT_FALSE(versions.empty());
  for (const auto& [name, count] : versions) {
    EXPECT_EQ(count, 1) << name << " was written " << count << " times";
    EXPECT_FALSE(name.ends_with("+latest.toml")) << name;
  }
  EXPECT_TRUE(versions.count("+gitvault/backups/a4.json")) << "the quiet night's record";

  // The same keys can neither delete an object nor a version of it.
  s3::Client attacker(u.endpoint, s3::Credentials{keys[0].second, keys[1].second, ""});
  std::string bundle;
  for (const auto& [name, count] : versions)
    if (name.ends_with(".bundle")) bundle = u.prefix + "/" + name;
  ASSERT_FALSE(bundle.empty());
  s3::Response del = attacker.send("DELETE", bundle, {}, {}, "");
  EXPECT_EQ(del.status, 403) << del.body;
  const std::string version = attacker.send("HEAD", bundle, {}, {}, "").header("x-amz-version-id");
  ASSERT_FALSE(version.empty());
  s3::Response del_version = attacker.send("DELETE", bundle, {{"versionId", version}}, {}, "");
  EXPECT_EQ(del_version.status, 403) << del_version.body;
  auto refused = writer({"prune", "--path", url, "--keep-last", "1"});
  EXPECT_NE(refused.exit_code, 0) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("AccessDenied"), std::string::npos) << refused.err;  // saying what it was deleting
  EXPECT_NE(refused.err.find("deleting "), std::string::npos) << refused.err;

  // Prune runs elsewhere with the owner's keys; what is kept restores with the writer's.
  auto p = gv({"prune", "--path", url, "--keep-last", "1"});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  auto r = writer({"restore", "--storage", "default=" + (dir_ / "restored"), "--path", url});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(refs_of_all(dir_ / "restored"), refs_of_all(dir_ / "storage"));
}

TEST_F(ImmutableBackups, ALockAskedOfABucketWithoutObjectLockIsRefusedBeforeAnythingIsWritten) {
  GITVAULT_REQUIRE_S3(plain);
  std::string url = testing::s3_test_url("object_lock=compliance&lock_for=35d");
  auto b = gv({"backup", "--storage", "default=" + (dir_ / "storage"), "--path", url, "--id", "b1"});
  EXPECT_EQ(b.exit_code, 2) << b.out << b.err;
  EXPECT_NE(b.err.find("has no Object Lock"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("--object-lock-enabled-for-bucket"), std::string::npos) << b.err;
  s3::Url u = s3::parse_url(url);
  s3::Client client(u.endpoint, s3::credentials_from_environment());
  EXPECT_TRUE(client.list(u.prefix + "/").objects.empty()) << "written before the refusal";

  // The two settings go together, and a mode is one of the two S3 knows.
  for (const char* query : {"object_lock=governance", "lock_for=35d", "object_lock=forever&lock_for=35d"}) {
    auto r = gv({"backups", "--path", testing::s3_test_url(query)});
    EXPECT_EQ(r.exit_code, 2) << query << r.err;
    EXPECT_NE(r.err.find("object_lock"), std::string::npos) << query << r.err;
  }
  ScratchDir cfg;
  testing::write_text(cfg / "gitvault.toml", "[[storage]]\nname = \"default\"\npath = \"" + (dir_ / "storage") +
                                                 "\"\n[backup]\npath = \"" + url.substr(0, url.find('?')) +
                                                 "\"\n[s3]\nobject_lock = \"governance\"\n");
  auto c = gv({"backups", "--config", cfg / "gitvault.toml"});
  EXPECT_EQ(c.exit_code, 2) << c.err;
  EXPECT_NE(c.err.find("object_lock and lock_for go together"), std::string::npos) << c.err;
  // A lock asked for a local directory is refused, not silently dropped.
  testing::write_text(cfg / "local.toml", "[[storage]]\nname = \"default\"\npath = \"" + (dir_ / "storage") +
                                              "\"\n[backup]\npath = \"" + (cfg / "backups") +
                                              "\"\n[s3]\nobject_lock = \"governance\"\nlock_for = \"35d\"\n");
  auto l = gv({"backup", "--config", cfg / "local.toml", "--id", "b1"});
  EXPECT_EQ(l.exit_code, 2) << l.out << l.err;
  EXPECT_NE(l.err.find("cannot lock"), std::string::npos) << l.err;
  EXPECT_FALSE(std::filesystem::exists(cfg / "backups/+gitvault/backups/b1.json"));
}

}  // namespace
}  // namespace gitvault
