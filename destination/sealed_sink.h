// A sealed destination (docs/encryption.md): every file that says anything about a repository
// is written as an age v1 file to the installation's recipients and read back with an
// identity; a backup record keeps its first line — the header `backups`, prune and locks need
// — in the clear, signed by the host that wrote it, and seals the rest. The host that backs up
// holds only public recipients: what it must read again (earlier records, chain files,
// `.refs`) it reads from its shadow, the plaintext copies of what it wrote itself, kept in
// a local directory of its own (0700).
//
// The sink knows names and bytes, not what they mean: which names are sealed, which are
// records and which are worth a shadow copy is the caller's knowledge (`classify`,
// backup/destination_open.h sealed_name_of).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "destination/sink.h"
#include "seal/age.h"
#include "seal/settings.h"
#include "seal/signing.h"

namespace gitvault {

enum class SealedKind {
  Clear,   // written and read as it is (locks, leases, lock ledger, prune's plan)
  Sealed,  // an age file
  Record,  // a backup record: its first line clear and signed, the rest an age file
};
struct SealedName {
  SealedKind kind = SealedKind::Sealed;
  bool shadowed = false;  // small files a later backup reads again (.refs, chain files, records)
  // A record's clear, redacted copy (backup/record.h write_redacted_record), read in its place
  // where neither an identity nor the shadow opens it: what prune and a quick verify need.
  std::string clear_copy;
};

struct SealingKeys {
  std::vector<AgeRecipient> recipients;       // writes are sealed to these; empty: no sealed write
  std::vector<AgeIdentity> identities;        // reads; empty: only what the shadow holds
  std::shared_ptr<const SigningKey> signer;   // signs the records this host writes
  std::vector<SignerKey> trusted;             // record signers accepted, the host's own key included
  bool trust_any_signer = false;              // --trust-any-signer
  std::string shadow_dir;                     // the writer's plaintext copies; "" none
};

// The clear part of a sealed record: what signed it and for whom it was sealed.
struct RecordSeal {
  SignerKey signer;
  std::vector<std::string> recipients;  // "age1…"
};

class SealedSink : public SinkWrapper {
 public:
  SealedSink(std::unique_ptr<Sink> target, SealingKeys keys, std::function<SealedName(const std::string&)> classify);
  std::unique_ptr<SinkWriter> create(const std::string& name) override;
  std::unique_ptr<SinkWriter> create_new(const std::string& name) override;
  std::unique_ptr<SinkWriter> create_replacement(const std::string& name) override;
  // Sealed files decrypt with an identity, else come from the shadow; without either,
  // Error(Config) saying an identity is needed (Error(NotFound) when there is no such file).
  // A record is checked first: its signature, its signer (trusted unless trust_any_signer)
  // and the sealed part's SHA-256; Error(Corrupt) naming the file for any mismatch.
  std::unique_ptr<ByteReader> open(const std::string& name) override;
  // A record's header (its clear first line) with no repositories, without an identity.
  FilePeek peek(const std::string& name, std::size_t head, std::size_t tail) override;
  void remove(const std::string& name) override;
  void remove_many(const std::vector<std::string>& names) override;
  // The signer and recipients of a record, read from its clear part (no identity needed).
  RecordSeal record_seal(const std::string& name);
  // Error(Config) — exit 2 before any work — unless one of the identities opens the record
  // `name`: it names the recipients the backup was sealed for, instead of a failure per file.
  void require_identity_for(const std::string& name);
  // The opaque name a repository's files take here (seal/signing.h opaque_repository_path,
  // under the writer's naming key); its relative path when this sink cannot write.
  std::string repository_path_in(const std::string& storage, const std::string& relative_path) override;
  // Without an identity, a sealed file the shadow does not hold is checked as the destination
  // holds it: present, with the size and SHA-256 of the age file its backup recorded
  // (FileDigest::stored).
  std::optional<std::string> check_unread(const FileDigest& digest) override;
  bool can_read(const std::string& name) override;
  const SealingKeys& keys() const { return keys_; }

 private:
  std::unique_ptr<SinkWriter> writer(const std::string& name, std::unique_ptr<SinkWriter> inner);
  std::string shadow_path(const std::string& name) const;
  std::unique_ptr<Sink> owned_;
  std::mutex seals_mu_;
  std::map<std::string, RecordSeal> seals_;  // of the records peek() read; guarded by seals_mu_
  SealingKeys keys_;
  std::optional<std::array<unsigned char, 32>> naming_key_;  // of keys_.signer, derived once
  std::function<SealedName(const std::string&)> classify_;
};

// The keys `settings` name, read and checked: recipients parsed, the identity file read as ssh
// reads a key (mode 0600), this host's signing key loaded — created on first use when
// `writing` — and trusted with the configured signers; the shadow directory defaults to one
// per destination under kDefaultSealedState. Error(Config) naming the setting or file.
SealingKeys sealing_keys_for(const SealSettings& settings, const std::string& destination, bool writing);

// The clear first line of a sealed record's file and its seal line, for a record read whole.
// `where` names it in errors. Exposed for tests.
struct SealedRecordParts {
  std::string header;   // through its newline
  std::string seal;     // "gvseal1 …", without its newline
  std::string sealed;   // the age file
};
SealedRecordParts split_sealed_record(const std::string& file, const std::string& where);

}  // namespace gitvault
