// What gitvault knows of a pack's files on disk: a pack (`PACK` ... its checksum in its last
// 20 bytes) and its companions — the index (.idx), reverse index (.rev) and reachability
// bitmap (.bitmap) — each of which names the pack it belongs to by that checksum. The backup
// keeps the companions beside a single-pack bundle only when they name the pack it copied;
// the restore installs them only when they name the pack it received.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace gitvault {

// The first 32 and last 40 bytes of a file as it streams past, and its size: where packs and
// their companions keep their magic and the pack's checksum.
class FileEnds {
 public:
  void add(const char* data, std::size_t size);
  const std::string& head() const { return head_; }
  const std::string& tail() const { return tail_; }
  std::uint64_t size() const { return size_; }

 private:
  std::string head_, tail_;
  std::uint64_t size_ = 0;
};

enum class PackCompanion { Index, ReverseIndex, Bitmap };
inline constexpr PackCompanion kPackCompanions[] = {PackCompanion::Index, PackCompanion::ReverseIndex,
                                                    PackCompanion::Bitmap};
const char* extension(PackCompanion c);  // "idx", "rev", "bitmap"

// The pack's checksum (20 raw bytes) from a pack file's ends; nullopt when it is no pack.
std::optional<std::string> pack_checksum(const FileEnds& pack);
// The checksum of the pack a companion names; nullopt when the file is not such a companion.
std::optional<std::string> pack_named_by(PackCompanion c, const FileEnds& file);

}  // namespace gitvault
