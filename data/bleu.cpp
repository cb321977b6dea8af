#include "data/bleu.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <unordered_map>

#include "data/data_error.h"

namespace bcqnmt {

namespace {

constexpr int kMaxOrder = 4;

// Python's str.isspace() code points, the separators of str.split() with no argument.
bool is_python_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// The code point starting at s[i] and its length in bytes; a malformed byte stands alone.
std::pair<char32_t, size_t> decode_utf8(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  if (i + len > s.size()) len = 1;
  if (len == 1) return {b, 1};
  char32_t c = b & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto cont = static_cast<unsigned char>(s[i + k]);
    if ((cont & 0xC0) != 0x80) return {b, 1};
    c = (c << 6) | (cont & 0x3F);
  }
  return {c, len};
}

// Python's line.split().
std::vector<std::string_view> split_like_python(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0, start = std::string_view::npos;
  while (i < line.size()) {
    const auto [c, len] = decode_utf8(line, i);
    if (is_python_whitespace(c)) {
      if (start != std::string_view::npos) words.push_back(line.substr(start, i - start));
      start = std::string_view::npos;
    } else if (start == std::string_view::npos) {
      start = i;
    }
    i += len;
  }
  if (start != std::string_view::npos) words.push_back(line.substr(start));
  return words;
}

// Per order n = 1..4: clipped matches against the reference and hypothesis n-gram count.
struct NgramStats {
  std::array<int64_t, kMaxOrder> matches{};
  std::array<int64_t, kMaxOrder> totals{};
};

NgramStats sentence_ngram_stats(const std::vector<std::string_view>& reference,
                                const std::vector<std::string_view>& hypothesis) {
  NgramStats stats;
  // Tokens never contain whitespace, so a space-joined n-gram is a unique key.
  auto count = [](const std::vector<std::string_view>& words, size_t n) {
    std::unordered_map<std::string, int64_t> counts;
    for (size_t i = 0; i + n <= words.size(); ++i) {
      std::string key(words[i]);
      for (size_t k = 1; k < n; ++k) (key += ' ') += words[i + k];
      ++counts[key];
    }
    return counts;
  };
  for (size_t n = 1; n <= kMaxOrder; ++n) {
    const auto hyp = count(hypothesis, n);
    const auto ref = count(reference, n);
    for (const auto& [gram, c] : hyp) {
      const auto it = ref.find(gram);
      stats.matches[n - 1] += it == ref.end() ? 0 : std::min(c, it->second);
      stats.totals[n - 1] += c;
    }
  }
  return stats;
}

void check_same_count(const std::vector<std::string>& references, const std::vector<std::string>& hypotheses) {
  if (references.size() != hypotheses.size())
    throw DataError("BLEU: " + std::to_string(hypotheses.size()) + " hypotheses for " +
                    std::to_string(references.size()) + " references; every hypothesis needs its reference");
}

// Python's str.rstrip().
std::string_view rstrip_like_python(std::string_view s) {
  const auto words = split_like_python(s);
  if (words.empty()) return s.substr(0, 0);
  return s.substr(0, static_cast<size_t>(words.back().data() + words.back().size() - s.data()));
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size())
    (out.append(s, pos, hit - pos)) += to;
  out.append(s, pos);
  return out;
}

// Python's re.sub for a two-character pattern (first)(second) -> pre \1 mid \2 post:
// leftmost matches, non-overlapping, scanning on after each match. Working on bytes gives
// the same result as on code points here, since every class that can start or end a match
// next to a multi-byte character is ASCII or a negated digit class.
template <class First, class Second>
std::string substitute_pairs(const std::string& s, First first, Second second, const char* pre, const char* mid,
                             const char* post) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && first(s[i]) && second(s[i + 1])) {
      ((((out += pre) += s[i]) += mid) += s[i + 1]) += post;
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// sacreBLEU 2.3.1 tokenizer_13a's first pattern, ([\{-\~\[-\` -\&\(-\+\:-\@\/]):
// { | } ~  [ \ ] ^ _ `  space ! " # $ % &  ( ) * +  : ; < = > ? @  /
bool is_13a_symbol(char c) {
  return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') || (c >= '(' && c <= '+') ||
         (c >= ':' && c <= '@') || c == '/';
}

}  // namespace

double nltk_corpus_bleu(const std::vector<std::string>& references, const std::vector<std::string>& hypotheses) {
  check_same_count(references, hypotheses);
  std::array<int64_t, kMaxOrder> numerators{}, denominators{};
  int64_t hyp_length = 0, ref_length = 0;
  for (size_t s = 0; s < references.size(); ++s) {
    const auto ref = split_like_python(references[s]);
    const auto hyp = split_like_python(hypotheses[s]);
    const NgramStats stats = sentence_ngram_stats(ref, hyp);
    for (int n = 0; n < kMaxOrder; ++n) {
      numerators[n] += stats.matches[n];
      denominators[n] += std::max<int64_t>(1, stats.totals[n]);  // nltk modified_precision
    }
    hyp_length += static_cast<int64_t>(hyp.size());
    ref_length += static_cast<int64_t>(ref.size());
  }
  if (numerators[0] == 0) return 0.0;
  // nltk brevity_penalty: 1 if c > r, 0 if c == 0, else exp(1 - r/c).
  double bp = 1.0;
  if (hyp_length == 0) bp = 0.0;
  else if (hyp_length <= ref_length) bp = std::exp(1.0 - static_cast<double>(ref_length) / hyp_length);
  double log_sum = 0.0;
  for (int n = 0; n < kMaxOrder; ++n) {
    const double p = numerators[n] == 0 ? DBL_MIN  // SmoothingFunction.method0
                                        : static_cast<double>(numerators[n]) / static_cast<double>(denominators[n]);
    log_sum += 0.25 * std::log(p);
  }
  return bp * std::exp(log_sum);
}

std::string tokenize_13a(std::string_view line) {
  std::string s = replace_all(std::string(line), "<skipped>", "");
  s = replace_all(std::move(s), "-\n", "");
  s = replace_all(std::move(s), "\n", " ");
  if (s.find('&') != std::string::npos) {
    s = replace_all(std::move(s), "&quot;", "\"");
    s = replace_all(std::move(s), "&amp;", "&");
    s = replace_all(std::move(s), "&lt;", "<");
    s = replace_all(std::move(s), "&gt;", ">");
  }
  std::string spaced;
  spaced.reserve(s.size() * 2 + 2);
  spaced += ' ';
  for (char c : s) {
    if (is_13a_symbol(c)) ((spaced += ' ') += c) += ' ';
    else spaced += c;
  }
  spaced += ' ';
  auto is_period_or_comma = [](char c) { return c == '.' || c == ','; };
  auto not_digit = [](char c) { return !is_digit(c); };
  spaced = substitute_pairs(spaced, not_digit, is_period_or_comma, "", " ", " ");  // ([^0-9])([\.,]) -> \1 \2
  spaced = substitute_pairs(spaced, is_period_or_comma, not_digit, " ", " ", "");  // ([\.,])([^0-9]) -> \1 \2
  spaced = substitute_pairs(spaced, is_digit, [](char c) { return c == '-'; }, "", " ", " ");  // ([0-9])(-)
  std::string out;
  for (std::string_view word : split_like_python(spaced)) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

SacreBleuScore sacrebleu_corpus_bleu(const std::vector<std::string>& references,
                                     const std::vector<std::string>& hypotheses) {
  check_same_count(references, hypotheses);
  std::array<int64_t, kMaxOrder> correct{}, total{};
  SacreBleuScore result;
  result.signature = kSacreBleuSignature;
  for (size_t s = 0; s < references.size(); ++s) {
    const std::string ref_text = tokenize_13a(rstrip_like_python(references[s]));
    const std::string hyp_text = tokenize_13a(rstrip_like_python(hypotheses[s]));
    const auto ref = split_like_python(ref_text);
    const auto hyp = split_like_python(hyp_text);
    const NgramStats stats = sentence_ngram_stats(ref, hyp);
    for (int n = 0; n < kMaxOrder; ++n) {
      correct[n] += stats.matches[n];
      total[n] += stats.totals[n];
    }
    result.hypothesis_length += static_cast<int64_t>(hyp.size());
    result.reference_length += static_cast<int64_t>(ref.size());
  }
  // sacrebleu.metrics.bleu.BLEU.compute_bleu with smooth_method "exp".
  const int64_t c = result.hypothesis_length, r = result.reference_length;
  if (c == 0) return result;
  result.brevity_penalty = c < r ? std::exp(1.0 - static_cast<double>(r) / static_cast<double>(c)) : 1.0;
  // No n-gram of any order matches: 0, with every precision 0 (sacreBLEU 2.x's early stop,
  // mjpost/sacrebleu#141; exp smoothing alone would make it a few BLEU points).
  if (std::all_of(correct.begin(), correct.end(), [](int64_t m) { return m == 0; })) return result;
  double smooth = 1.0;
  for (int n = 0; n < kMaxOrder; ++n) {
    if (total[n] == 0) break;  // the remaining precisions stay 0
    if (correct[n] == 0) {
      smooth *= 2.0;
      result.precisions[n] = 100.0 / (smooth * static_cast<double>(total[n]));
    } else {
      result.precisions[n] = 100.0 * static_cast<double>(correct[n]) / static_cast<double>(total[n]);
    }
  }
  double log_sum = 0.0;
  for (double p : result.precisions) log_sum += p == 0.0 ? -9999999999.0 : std::log(p);  // sacrebleu my_log
  result.score = result.brevity_penalty * std::exp(log_sum / kMaxOrder);
  return result;
}

}  // namespace bcqnmt
