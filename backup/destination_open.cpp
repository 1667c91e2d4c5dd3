#include "backup/destination_open.h"

#include "backup/layout.h"
#include "backup/record.h"
#include "base/error.h"
#include "destination/s3_sink.h"

namespace gitvault {
namespace {

constexpr const char* kSealedMarker = "+gitvault/sealed";

}  // namespace

SealedName sealed_name_of(const std::string& name) {
  // Records and chain files alike: a clear header line (ids, counts, needs), signed, the rest
  // sealed — a chain file names the steps, and so the files, a restore trusts.
  if (name.rfind("+gitvault/backups/", 0) == 0) return {SealedKind::Record, true, redacted_record_name(name)};
  if (is_chain_file_name(name)) return {SealedKind::Record, true, ""};
  if (name.rfind("+gitvault/proof/", 0) == 0) return {SealedKind::Sealed, false, ""};
  if (is_gitvault_own_file(name) || name.rfind("backup_ids/", 0) == 0) return {SealedKind::Clear, false, ""};
  return {SealedKind::Sealed, name.ends_with(".refs"), ""};
}

std::unique_ptr<Sink> open_backup_destination(const std::string& location, const SealSettings& seal, DestinationUse use,
                                              const std::string& id) {
  const bool writing = use == DestinationUse::Backup;
  std::unique_ptr<Sink> sink = open_sink(location);
  sink->check_usable();  // what is wrong with an endpoint or bucket, said before the marker is looked for
  const bool marked = sink->exists(kSealedMarker);
  if (!seal.enabled()) {
    if (marked)
      throw Error(ErrorCode::Config, sink->describe("") + " holds sealed backups (" + sink->describe(kSealedMarker) +
                                         "): configure [encryption] (recipients, and identity_file to read them)");
    return sink;
  }
  SealingKeys keys = sealing_keys_for(seal, sink->describe(""), writing);
  if (!marked) {
    if (!list_backup_ids(*sink).empty())
      throw Error(ErrorCode::Config, sink->describe("") + " holds backups written without [encryption]: a sealed "
                                         "configuration neither reads nor adds to them (use a new destination)");
    if (writing) {
      std::string text = "# gitvault: this destination is sealed (docs/encryption.md); first sealed for\n";
      for (const auto& r : keys.recipients) text += r.text() + "\n";
      write_whole(*sink, kSealedMarker, text);
    }
  }
  auto sealed = std::make_unique<SealedSink>(std::move(sink), std::move(keys), sealed_name_of);
  if (use == DestinationUse::ReadContent) {
    std::vector<std::string> ids = id.empty() ? list_backup_ids(*sealed) : std::vector<std::string>{id};
    if (!ids.empty())
      if (std::vector<std::string> files = record_files(*sealed, ids.back()); !files.empty())
        sealed->require_identity_for(files.front());
  }
  return sealed;
}

SealedSink* sealed_layer(Sink& sink) { return dynamic_cast<SealedSink*>(&sink); }

std::set<std::string> sealed_recipients(SealedSink& sealed, const std::vector<std::string>& record_files) {
  std::set<std::string> out;
  for (const auto& f : record_files)
    for (auto& r : sealed.record_seal(f).recipients) out.insert(std::move(r));
  return out;
}

}  // namespace gitvault
