#include "apps/command_files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "apps/app_error.h"

namespace bcqnmt {

void check_output_location(const std::string& flag, const std::string& path) {
  if (std::filesystem::is_directory(path)) throw AppError(flag + " " + path + ": it is a directory");
  const std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  if (!std::filesystem::is_directory(dir))
    throw AppError(flag + " " + path + ": directory " + dir.string() + " does not exist");
}

TextInput::TextInput(const std::string& path, std::istream& standard_input)
    : stream_(&standard_input), name_("standard input") {
  if (names_standard_stream(path)) return;
  name_ = path;
  // An ifstream opens a directory without complaint and reads it as empty.
  if (std::filesystem::is_directory(path)) throw AppError("cannot read " + path + ": it is a directory");
  file_.open(path, std::ios::binary);
  if (!file_) throw AppError("cannot read " + path + ": " + std::strerror(errno));
  stream_ = &file_;
}

void TextInput::check_read_to_end() const {
  // std::cin reads through C's stdin (synchronised with stdio), which records a failed read
  // in ferror(stdin) and reports only an end of file to the stream.
  const bool stdin_failed = stream_ == &std::cin && std::ferror(stdin) != 0;
  if (stream_->bad() || stdin_failed) throw AppError("cannot read " + name_ + ": a read failed before its end");
}

}  // namespace bcqnmt
