#pragma once
// The files a user names on a command line for a command to read or write (not the run
// directory's own files): `translate -i/-o`, `score --ref/--hyp`, `evaluate --output`,
// `export --out`. Input comes from the file, or from standard input when the name is empty or
// "-" (the Unix convention, as in `sacrebleu REF < HYP` or `marian-decoder -i -`).
#include <fstream>
#include <istream>
#include <string>

namespace bcqnmt {

// "" and "-" name the standard streams (stdin for an input, stdout for an output).
inline bool names_standard_stream(const std::string& path) { return path.empty() || path == "-"; }

// Throws AppError ("--output out/x.txt: directory out does not exist") unless `path` can be
// created or replaced: its directory exists and `path` is not a directory. Commands call it
// before their long work, so that a typo fails at once rather than after an hour of decoding.
// The parent is never created: a mistyped path must not pass silently.
void check_output_location(const std::string& flag, const std::string& path);

class TextInput {
 public:
  // Opens `path`, or takes `standard_input` when names_standard_stream(path). Throws AppError
  // naming the file when it is a directory, missing or unreadable.
  TextInput(const std::string& path, std::istream& standard_input);

  std::istream& stream() { return *stream_; }
  const std::string& name() const { return name_; }  // the path, or "standard input"
  // Call after reading: throws AppError when the stream stopped on a read error (EIO, or
  // standard input redirected from a directory) rather than at its end, so that a failed
  // read never passes for an empty or short input.
  void check_read_to_end() const;

 private:
  std::ifstream file_;
  std::istream* stream_;
  std::string name_;
};

}  // namespace bcqnmt
