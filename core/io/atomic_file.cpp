// Atomic file writes (POSIX): a temporary file in the same directory, fsync, rename, fsync of the directory.
#include "trident/core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "trident/core/error.h"

namespace trident::io {

namespace {
std::atomic<unsigned> temp_counter{0};

std::string directory_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

AtomicFile::AtomicFile(std::string path, std::string op) : path_(std::move(path)), op_(std::move(op)) {
  TRIDENT_CHECK(!path_.empty(), "{}: empty file name", op_);
  // A fresh name next to the target; O_EXCL makes sure no other file (or writer) is clobbered. Mode 0666 is reduced
  // by the umask, so the final file gets the permissions an ordinary new file would.
  for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
    temp_path_ = fmt::format("{}.tmp.{}.{}", path_, static_cast<long>(::getpid()), temp_counter.fetch_add(1));
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    const int err = errno;
    const std::string tried = temp_path_;
    temp_path_.clear();
    detail::throw_error(
        fmt::format("{}: {}: cannot create the temporary file {}: {}", op_, path_, tried, std::strerror(err)));
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::fail(const std::string& what, int err) {
  detail::throw_error(fmt::format("{}: {}: {}: {}", op_, path_, what, std::strerror(err)));
}

void AtomicFile::write(const void* data, std::size_t nbytes) {
  TRIDENT_ASSERT(fd_ >= 0 && !committed_, "{}: write after commit", op_);
  const char* p = static_cast<const char*>(data);
  while (nbytes > 0) {
    const ssize_t n = ::write(fd_, p, nbytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    p += n;
    nbytes -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  TRIDENT_ASSERT(fd_ >= 0 && !committed_, "{}: commit twice", op_);
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed", errno);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary file into place", errno);
  committed_ = true;
  // Make the rename itself durable. Best effort: some file systems do not support syncing a directory.
  const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomic(const std::string& path, const std::string& data, const std::string& op) {
  AtomicFile file(path, op);
  file.write(data.data(), data.size());
  file.commit();
}

}  // namespace trident::io
