// Writing a file atomically: readers (and a crash) see either the old file or the complete new one, never a part.
//
// The data goes to a temporary file in the target's directory (so the final rename stays within one file system);
// commit() flushes it to disk (fsync), renames it over the target and syncs the directory. A file that is destroyed
// without commit() (an error, an exception) removes its temporary file.
#pragma once

#include <cstddef>
#include <string>

namespace trident::io {

class AtomicFile {
 public:
  // `op` names the caller in error messages: "save_npy: <path>: ...".
  AtomicFile(std::string path, std::string op);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t nbytes);
  void commit();
  const std::string& temp_path() const { return temp_path_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  std::string path_, op_, temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Write `data` to `path` atomically (an AtomicFile written once and committed).
void write_file_atomic(const std::string& path, const std::string& data, const std::string& op);

}  // namespace trident::io
