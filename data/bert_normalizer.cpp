#include "data/bert_normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <array>

#include "data/data_error.h"

namespace bcqnmt {

namespace {

// What tf-text's BasicTokenizer (lower_case=True) does with a code point after
// NFKC_Casefold and NFD: kDrop is \p{Mn} (removed), kSpace is \p{Cc}|\p{Cf} (replaced by a
// space) and RE2's \s ([\t\n\f\r ]), kPunct is a delimiter kept as a word of its own.
enum class CharClass : uint8_t { kWord, kSpace, kPunct, kDrop };

// BERT's _is_punctuation counts every non-alphanumeric printable ASCII character.
constexpr bool is_ascii_punctuation(char32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

constexpr std::array<CharClass, 128> make_ascii_classes() {
  std::array<CharClass, 128> classes{};
  for (char32_t c = 0; c < 128; ++c) {
    if (c <= ' ' || c == 127)  // space and the C0 controls and DEL (Cc)
      classes[c] = CharClass::kSpace;
    else if (is_ascii_punctuation(c))
      classes[c] = CharClass::kPunct;
    else
      classes[c] = CharClass::kWord;
  }
  return classes;
}

constexpr std::array<CharClass, 128> kAsciiClasses = make_ascii_classes();

// BERT's _is_chinese_char: the CJK Unified Ideographs blocks.
bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Non-ASCII separators (Zs, Zl, Zp) are not in RE2's \s, so tf-text keeps in a word the
// few that NFKC_Casefold leaves (U+1680, U+2028, U+2029); the others became U+0020 there.
// Private-use, unassigned and U+FFFD are word characters too (BERT's Python tokenizer
// dropped U+FFFD; tf-text does not).
CharClass classify(char32_t c) {
  if (c < 128) return kAsciiClasses[c];
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR: return CharClass::kSpace;
    case U_NON_SPACING_MARK: return CharClass::kDrop;
    default: break;
  }
  if (bert_is_punctuation(c) || is_cjk_ideograph(c)) return CharClass::kPunct;
  return CharClass::kWord;
}

// Collects words into a reused vector without giving back the strings' heap storage.
class WordSink {
 public:
  explicit WordSink(std::vector<std::string>& words) : words_(words) {}
  ~WordSink() { words_.resize(count_); }
  void append(const char* bytes, size_t n) {
    if (!open_) {
      if (count_ == words_.size()) words_.emplace_back();
      words_[count_++].clear();
      open_ = true;
    }
    words_[count_ - 1].append(bytes, n);
  }
  void close() { open_ = false; }
  void single(const char* bytes, size_t n) {
    close();
    append(bytes, n);
    close();
  }

 private:
  std::vector<std::string>& words_;
  size_t count_ = 0;
  bool open_ = false;
};

bool is_ascii(std::string_view line) {
  for (char c : line)
    if (static_cast<unsigned char>(c) >= 128) return false;
  return true;
}

// NFKC_Casefold, then NFD, in UTF-16 as ICU works. TensorFlow Text's case_fold_utf8 (what
// the reference's BertTokenizer(lower_case=True) ran) is NFKC_Casefold, not a bare case
// fold: it also maps compatibility forms (ligatures, full-width letters, NBSP) and removes
// default-ignorable characters (soft hyphen, zero-width joiner).
icu::UnicodeString fold_and_decompose(std::string_view line) {
  const icu::UnicodeString text =
      icu::UnicodeString::fromUTF8(icu::StringPiece(line.data(), static_cast<int32_t>(line.size())));
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* fold = icu::Normalizer2::getNFKCCasefoldInstance(status);
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  icu::UnicodeString decomposed;
  if (U_SUCCESS(status)) decomposed = nfd->normalize(fold->normalize(text, status), status);
  if (U_FAILURE(status)) throw DataError(std::string("ICU normalisation failed: ") + u_errorName(status));
  return decomposed;
}

template <class F>
void for_each_code_point(const icu::UnicodeString& text, F&& f) {
  for (int32_t i = 0; i < text.length();) {
    const UChar32 c = text.char32At(i);
    i += U16_LENGTH(c);
    f(static_cast<char32_t>(c));
  }
}

}  // namespace

bool bert_is_punctuation(char32_t c) {
  if (is_ascii_punctuation(c)) return true;
  if (c < 128) return false;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION: return true;
    default: return false;
  }
}

void bert_split_words_unicode(std::string_view line, std::vector<std::string>& words) {
  WordSink sink(words);
  for_each_code_point(fold_and_decompose(line), [&](char32_t c) {
    char utf8[4];
    int32_t n = 0;
    switch (classify(c)) {
      case CharClass::kSpace: sink.close(); break;
      case CharClass::kDrop: break;
      case CharClass::kPunct:
        U8_APPEND_UNSAFE(utf8, n, c);
        sink.single(utf8, n);
        break;
      case CharClass::kWord:
        U8_APPEND_UNSAFE(utf8, n, c);
        sink.append(utf8, n);
        break;
    }
  });
}

void bert_split_words(std::string_view line, std::vector<std::string>& words) {
  if (!is_ascii(line)) {
    bert_split_words_unicode(line, words);
    return;
  }
  WordSink sink(words);
  for (char byte : line) {
    char c = (byte >= 'A' && byte <= 'Z') ? static_cast<char>(byte + ('a' - 'A')) : byte;
    switch (kAsciiClasses[static_cast<unsigned char>(c)]) {
      case CharClass::kSpace: sink.close(); break;
      case CharClass::kDrop: break;
      case CharClass::kPunct: sink.single(&c, 1); break;
      case CharClass::kWord: sink.append(&c, 1); break;
    }
  }
}

std::vector<std::string> bert_split_words(std::string_view line) {
  std::vector<std::string> words;
  bert_split_words(line, words);
  return words;
}

std::string bert_normalize_characters(std::string_view line) {
  std::string out;
  for_each_code_point(fold_and_decompose(line), [&](char32_t c) {
    const CharClass k = classify(c);
    if (k == CharClass::kDrop) return;
    if (k == CharClass::kSpace && c != ' ' && c != '\t' && c != '\n' && c != '\r') c = ' ';
    char utf8[4];
    int32_t n = 0;
    U8_APPEND_UNSAFE(utf8, n, c);
    out.append(utf8, n);
  });
  return out;
}

}  // namespace bcqnmt
