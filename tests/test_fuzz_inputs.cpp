// Fuzzing every input bcqnmt reads: .bcq and .ckpt files (raw byte damage; byte damage
// inside the payload with the checksum recomputed, so the parser sees it; structural
// damage -- shapes, piece sizes, bits, group sizes, names, config -- written through the
// file's own writer), config values, and input text. Every case runs in a forked child, so
// a crash is counted rather than ending the test: each must load, or fail with the module's
// own exception (one line naming the file or key); any other exception or a signal fails.
// Seeded, so a failure reproduces; the counts are printed (ctest -V) and all of it runs in
// a few seconds.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/app_error.h"
#include "apps/model_loading.h"
#include "apps/quantization_config.h"
#include "apps/training_config.h"
#include <unicode/utf8.h>

#include "core/checksummed_file.h"
#include "core/error.h"
#include "core/random.h"
#include "data/bert_normalizer.h"
#include "data/corpus.h"
#include "data/data_error.h"
#include "data/utf8.h"
#include "data/vocabulary.h"
#include "nn/error.h"
#include "optim/checkpoint.h"
#include "quant/bcq_file.h"
#include "quant/bcq_model.h"
#include "quant/quant_error.h"
#include "quant_tiny_model.h"
#include "test_data_files.h"

using namespace bcqnmt;
namespace fs = std::filesystem;

namespace {

struct Tally {
  std::string what;
  int tried = 0, loaded = 0, clean_errors = 0, unclean_errors = 0, crashes = 0;
  ~Tally() {
    MESSAGE(what << ": " << tried << " cases, " << loaded << " loaded, " << clean_errors << " clean errors, "
                 << unclean_errors << " other exceptions, " << crashes << " crashes");
  }
};

// Runs `attempt` in a child: exit 0 = it loaded, 3 = one of bcqnmt's own error types, 4 =
// any other exception (printed), a signal = a crash.
void run_case(Tally& tally, const std::function<void()>& attempt) {
  ++tally.tried;
  std::fflush(nullptr);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int code = 0;
    try {
      attempt();
    } catch (const QuantError&) {
      code = 3;
    } catch (const CheckpointError&) {
      code = 3;
    } catch (const NnError&) {
      code = 3;
    } catch (const AppError&) {
      code = 3;
    } catch (const DataError&) {
      code = 3;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s case %d: %s\n", tally.what.c_str(), tally.tried, e.what());
      code = 4;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) {
    ++tally.crashes;
    FAIL_CHECK(tally.what << " case " << tally.tried << ": signal " << WTERMSIG(status));
  } else if (WEXITSTATUS(status) == 0) {
    ++tally.loaded;
  } else if (WEXITSTATUS(status) == 3) {
    ++tally.clean_errors;
  } else {
    ++tally.unclean_errors;
    FAIL_CHECK(tally.what << " case " << tally.tried << ": not a clean error (see stderr)");
  }
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

constexpr size_t kHeaderBytes = 8 + 4 + 8, kTrailerBytes = 8;  // core/checksummed_file.h

// The file with its payload replaced and the checksum and length recomputed.
std::string with_payload(const std::string& file, const std::string& payload) {
  std::string out = file.substr(0, 12);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xFF));
  out += payload;
  const uint64_t sum = fnv1a_64(payload);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((sum >> (8 * i)) & 0xFF));
  return out;
}

// Values that find off-by-one, sign and overflow mistakes in sizes.
int64_t interesting(Rng& rng, int64_t near) {
  const int64_t values[] = {0, 1, -1, near - 1, near + 1, 2 * near, int64_t{1} << 31, (int64_t{1} << 32) + 1,
                            int64_t{1} << 40, std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min()};
  return values[rng.below(std::size(values))];
}

// Raw damage: a flipped, set or removed byte, a cut, trailing junk; no checksum repair.
std::string damaged_bytes(const std::string& good, Rng& rng) {
  std::string bad = good;
  const size_t at = rng.below(good.size());
  switch (rng.below(5)) {
    case 0: bad[at] = static_cast<char>(bad[at] ^ (1 << rng.below(8))); break;
    case 1: bad[at] = static_cast<char>(rng.below(256)); break;
    case 2: bad.erase(at, 1); break;
    case 3: bad.resize(at); break;
    default: bad += std::string(1 + rng.below(16), static_cast<char>(rng.below(256))); break;
  }
  return bad == good ? good.substr(1) : bad;
}

// Payload damage behind a valid checksum: 1-4 bytes set to boundary values, or an 8-byte
// run (a size tag, a dimension) set to an interesting integer, or a cut or inserted range.
std::string damaged_payload(const std::string& file, Rng& rng) {
  std::string payload = file.substr(kHeaderBytes, file.size() - kHeaderBytes - kTrailerBytes);
  const size_t at = rng.below(payload.size());
  switch (rng.below(4)) {
    case 0:
      for (uint64_t k = 0, n = 1 + rng.below(4); k < n; ++k) {
        const char values[] = {0, 1, 8, 0x7F, static_cast<char>(0x80), static_cast<char>(0xFF)};
        payload[rng.below(payload.size())] = values[rng.below(std::size(values))];
      }
      break;
    case 1: {
      const int64_t v = interesting(rng, 64);
      for (size_t i = 0; i < 8 && at + i < payload.size(); ++i) payload[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
      break;
    }
    case 2: payload.erase(at, 1 + rng.below(32)); break;
    default: payload.insert(at, std::string(1 + rng.below(32), static_cast<char>(rng.below(256)))); break;
  }
  return with_payload(file, payload);
}

// 150 raw byte damages (the checksum must catch every one) and 400 payload damages behind
// a recomputed checksum, each written to `bad` and loaded by `load`.
void fuzz_bytes(const std::string& kind, const std::string& good, const fs::path& bad, Rng& rng,
                const std::function<void()>& load) {
  Tally raw{kind + " raw byte damage"};
  for (int i = 0; i < 150; ++i) {
    write_bytes(bad, damaged_bytes(good, rng));
    run_case(raw, load);
  }
  CHECK(raw.clean_errors == raw.tried);
  Tally payload{kind + " payload damage, checksum recomputed"};
  for (int i = 0; i < 400; ++i) {
    write_bytes(bad, damaged_payload(good, rng));
    run_case(payload, load);
  }
  CHECK(payload.clean_errors > payload.tried / 2);
}


// ---- .bcq --------------------------------------------------------------------------------

// One structural change to a .bcq file: a field of a matrix, a piece, a dense tensor, the
// lists or the config. Every value is one a damaged or hostile file could hold.
void mutate_bcq(BcqFile& f, Rng& rng) {
  StoredMatrix& s = f.matrices[rng.below(f.matrices.size())];
  BcqMatrix& piece = s.pieces[rng.below(s.pieces.size())];
  StoredTensor& t = f.dense[rng.below(f.dense.size())];
  switch (rng.below(20)) {
    case 0: s.rows = interesting(rng, s.rows); break;
    case 1: s.cols = interesting(rng, s.cols); break;
    case 2: piece.rows = interesting(rng, piece.rows); break;
    case 3: piece.cols = interesting(rng, piece.cols); break;
    case 4: piece.bits = static_cast<int>(interesting(rng, piece.bits)); break;
    case 5: piece.group_size = interesting(rng, piece.cols); break;
    case 6: piece.alphas.clear(), piece.signs.clear(); break;  // SIGSEGV in translate and info before
    case 7: piece.alphas.resize(rng.below(2 * piece.alphas.size() + 2)); break;
    case 8: piece.signs.resize(rng.below(2 * piece.signs.size() + 2)); break;
    case 9: piece.alphas.assign(piece.alphas.size(), std::numeric_limits<float>::quiet_NaN()); break;
    case 10: s.pieces.push_back(piece); break;
    case 11: s.pieces.clear(); break;
    case 12: {
      s.piece_of_row.resize(rng.below(2) ? static_cast<size_t>(std::max<int64_t>(s.rows, 0)) : rng.below(64));
      for (uint8_t& p : s.piece_of_row) p = static_cast<uint8_t>(rng.below(4));
      break;
    }
    case 13: s.name = rng.below(2) ? f.matrices[rng.below(f.matrices.size())].name : "no/such/weight"; break;
    case 14: t.shape = {interesting(rng, 4), static_cast<int64_t>(rng.below(5))}; break;
    case 15: t.values.resize(rng.below(t.values.size() + 2)); break;
    case 16: rng.below(2) ? (void)f.dense.push_back(t) : (void)f.dense.erase(f.dense.begin()); break;
    case 17: rng.below(2) ? (void)f.matrices.push_back(s) : (void)f.matrices.erase(f.matrices.begin()); break;
    case 18: t.name = f.matrices[rng.below(f.matrices.size())].name; break;
    default: {
      nlohmann::json config = nlohmann::json::parse(f.config_json);
      const char* keys[] = {"num_layers", "d_model", "dff", "num_heads", "key_dim", "src_vocab_size", "tgt_vocab_size",
                            "max_positions"};
      config[keys[rng.below(std::size(keys))]] = interesting(rng, 16);
      f.config_json = rng.below(8) ? config.dump() : "{not json";
      break;
    }
  }
}

struct GoodBcq {
  bcqnmt::test::ScratchDir scratch;
  fs::path path = scratch.path / "good.bcq";
  std::string bytes;
  GoodBcq() {
    Transformer model(test::quant_tiny_config(), 5);
    QuantizeSettings settings;
    settings.bits = BitAllocation::uniform(2);
    settings.bits.encoder_ffn = 3;
    settings.solver.group_size = 8;
    BcqModel::quantize(model, settings).save(path, model, 1, 2);
    bytes = read_bytes(path);
  }
};

void load_bcq_everywhere(const fs::path& path) {
  const LoadedBcqModel loaded = load_bcq_model(path, /*kernels=*/true);
  (void)bcq_size_report(loaded.bcq, *loaded.model);  // what `info` prints
  (void)load_bcq_model(path, /*kernels=*/false);
}

// ---- .ckpt -------------------------------------------------------------------------------

struct GoodCheckpoint {
  bcqnmt::test::ScratchDir scratch;
  fs::path path = scratch.path / "good.ckpt";
  std::string bytes;
  std::string config_json = [] {
    ModelConfig c = test::quant_tiny_config();
    return c.to_json().dump();
  }();
  Checkpoint checkpoint;
  GoodCheckpoint() {
    Transformer model(test::quant_tiny_config(), 6);
    for (const auto& [name, p] : model.named_parameters()) {
      checkpoint.parameters.push_back({name, p.value()});
      checkpoint.optimizer.first_moment.push_back(Tensor::full(p.value().shape(), 0.5f));
      checkpoint.optimizer.second_moment.push_back(Tensor::full(p.value().shape(), 0.25f));
    }
    checkpoint.step = 10;
    checkpoint.config_json = config_json;
    checkpoint.metrics["val_masked_accuracy"] = 0.5;
    save_checkpoint(path, checkpoint);
    bytes = read_bytes(path);
  }
  // What resuming or loading a run's fp model does with a checkpoint.
  void load_everywhere(const fs::path& p) const {
    const Checkpoint c = load_checkpoint(p);
    check_checkpoint_compatible(c, p, config_json, 0, 0);
    Transformer model(test::quant_tiny_config(), 7);
    load_model_parameters(model, c, p);
  }
};

// One structural change written through save_checkpoint (which recomputes the checksum).
void mutate_checkpoint(Checkpoint& c, Rng& rng) {
  NamedTensor& p = c.parameters[rng.below(c.parameters.size())];
  const size_t k = static_cast<size_t>(&p - c.parameters.data());
  auto reshape = [&](Shape shape) {
    p.value = Tensor::zeros(shape);
    c.optimizer.first_moment[k] = Tensor::zeros(shape);
    c.optimizer.second_moment[k] = Tensor::zeros(shape);
  };
  switch (rng.below(8)) {
    case 0: reshape({static_cast<int64_t>(rng.below(40))}); break;
    case 1: reshape({static_cast<int64_t>(rng.below(40)), static_cast<int64_t>(rng.below(40))}); break;
    case 2: p.name = rng.below(2) ? c.parameters[rng.below(c.parameters.size())].name : "no/such/weight"; break;
    case 3: p.value.data()[rng.below(static_cast<uint64_t>(p.value.numel()))] = std::nanf(""); break;
    case 4:
      c.parameters.erase(c.parameters.begin() + static_cast<std::ptrdiff_t>(k));
      c.optimizer.first_moment.erase(c.optimizer.first_moment.begin() + static_cast<std::ptrdiff_t>(k));
      c.optimizer.second_moment.erase(c.optimizer.second_moment.begin() + static_cast<std::ptrdiff_t>(k));
      break;
    case 5: c.optimizer.first_moment.clear(), c.optimizer.second_moment.clear(); break;
    case 6: c.config_json = rng.below(2) ? "{\"num_layers\": 3}" : "[1"; break;
    default: {  // a copy first: p refers into c.parameters, which the first push_back may move
      const NamedTensor extra = p;
      c.parameters.push_back(extra), c.optimizer.first_moment.push_back(extra.value);
      c.optimizer.second_moment.push_back(extra.value);
      break;
    }
  }
}

}  // namespace

TEST_CASE("fuzz .bcq: raw bytes, payload bytes behind a valid checksum, structure") {
  const GoodBcq good;
  Rng rng(181);
  const fs::path bad = good.scratch.path / "bad.bcq";
  fuzz_bytes(".bcq", good.bytes, bad, rng, [&] { load_bcq_everywhere(bad); });
  {
    Tally structural{".bcq structural damage, written by write_bcq_file"};
    const BcqFile original = read_bcq_file(good.path);
    for (int i = 0; i < 400; ++i) {
      BcqFile f = original;
      mutate_bcq(f, rng);
      write_bcq_file(bad, f);
      run_case(structural, [&] { load_bcq_everywhere(bad); });
    }
    CHECK(structural.clean_errors > structural.tried / 2);
  }
}

TEST_CASE("a checksum-valid .bcq whose piece has no alphas or signs is refused, not a SIGSEGV") {
  const GoodBcq good;
  BcqFile f = read_bcq_file(good.path);
  f.matrices.front().pieces.front().alphas.clear();
  f.matrices.front().pieces.front().signs.clear();
  const fs::path bad = good.scratch.path / "empty_piece.bcq";
  write_bcq_file(bad, f);
  CHECK_THROWS_WITH_AS(load_bcq_model(bad, true), doctest::Contains("needs"), QuantError);
  // rows = 2^32 + 1 was compared with the model only after its row table was allocated (5.1 GB).
  f = read_bcq_file(good.path);
  f.matrices.front().rows = (int64_t{1} << 32) + 1;
  write_bcq_file(bad, f);
  CHECK_THROWS_WITH_AS(load_bcq_model(bad, true), doctest::Contains("but the model config gives"), QuantError);
}

TEST_CASE("bytes quoted from a file are escaped and cut short: a NUL in a .bcq name, a binary vocabulary") {
  const GoodBcq good;
  BcqFile f = read_bcq_file(good.path);
  f.dense.front().name = std::string("e\0ncoder\x1b[31m", 13);
  const fs::path bad = good.scratch.path / "nul_name.bcq";
  write_bcq_file(bad, f);
  // The NUL cut the message to "bad.bcq: holds 'e" where it was printed.
  CHECK_THROWS_WITH_AS(load_bcq_model(bad, true),
                       (bad.string() + ": holds 'e\\x00ncoder\\x1b[31m', which the model has no parameter for").c_str(),
                       QuantError);
  const fs::path vocab = good.scratch.path / "binary_vocab.txt";
  std::string bytes = "[PAD]\n[UNK]\n[START]\n";
  for (int k = 0; k < 4000; ++k) bytes += static_cast<char>(k * 37 % 251 + (k % 97 == 0 ? 0 : 1));
  test::write_text(vocab, bytes);
  try {
    (void)Vocabulary::load(vocab.string());
    FAIL("a binary vocabulary was loaded");
  } catch (const DataError& e) {
    const std::string message = e.what();
    CHECK(message.size() < 400);
    // Well-formed UTF-8 may stay; control bytes may not.
    CHECK(std::none_of(message.begin(), message.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }));
    CHECK(message.find("entry 3 is '") != std::string::npos);
  }
}

TEST_CASE("a model config stored in a .bcq or .ckpt nested 200,000 deep or holding 1e400: one line naming the file") {
  const std::string deep = R"({"a":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
  const std::string huge = R"({"num_layers": 1e400})";
  const GoodBcq good;
  const fs::path bad = good.scratch.path / "bad_config.bcq";
  for (const std::string& config : {deep, huge}) {
    BcqFile f = read_bcq_file(good.path);
    f.config_json = config;
    write_bcq_file(bad, f);
    const std::string expected = bad.string() + ": the model config stored in it: " +
                                 (config == deep ? "JSON nested deeper than 64 levels"
                                                 : "a value out of range (number overflow parsing '1e400')");
    CHECK_THROWS_WITH_AS(load_bcq_model(bad, true), expected.c_str(), QuantError);
  }
  const GoodCheckpoint checkpoint;
  for (const std::string& config : {deep, huge}) {
    Checkpoint c = checkpoint.checkpoint;
    c.config_json = config;
    save_checkpoint(checkpoint.path, c);
    const std::string expected = checkpoint.path.string() + ": the model config stored in it: ";
    CHECK_THROWS_WITH_AS(checkpoint.load_everywhere(checkpoint.path), doctest::Contains(expected.c_str()),
                         CheckpointError);
  }
}

TEST_CASE("fuzz .ckpt: raw bytes, payload bytes behind a valid checksum, structure") {
  const GoodCheckpoint good;
  Rng rng(182);
  const fs::path bad = good.scratch.path / "bad.ckpt";
  fuzz_bytes(".ckpt", good.bytes, bad, rng, [&] { good.load_everywhere(bad); });
  {
    Tally structural{".ckpt structural damage, written by save_checkpoint"};
    for (int i = 0; i < 200; ++i) {
      Checkpoint c = good.checkpoint;
      mutate_checkpoint(c, rng);
      run_case(structural, [&] {
        save_checkpoint(bad, c);
        good.load_everywhere(bad);
      });
    }
    CHECK(structural.clean_errors > structural.tried / 2);
  }
}

TEST_CASE("fuzz config values: every key of every section, hostile values") {
  Rng rng(183);
  Tally tally{"config values"};
  const nlohmann::json sections[] = {ModelConfig{}.to_json(), TrainingConfig{}.to_json(), QuantizationConfig{}.to_json()};
  auto hostile = [&](const nlohmann::json& like) -> nlohmann::json {
    switch (rng.below(9)) {
      case 0: return interesting(rng, like.is_number_integer() ? like.get<int64_t>() : 4);
      case 1: return std::numeric_limits<uint64_t>::max();
      case 2: return -1e300;
      case 3: return 1e300;
      case 4: return "x";
      case 5: return nullptr;
      case 6: return nlohmann::json::array({1});
      case 7: return rng.below(2) == 1;
      default: return static_cast<int64_t>(rng.below(5));
    }
  };
  for (int i = 0; i < 600; ++i) {
    const size_t section = rng.below(3);
    nlohmann::json j = nlohmann::json::object();
    const nlohmann::json& defaults = sections[section];
    for (const auto& [key, value] : defaults.items())
      if (rng.below(3) == 0) j[key] = hostile(value);
    run_case(tally, [&] {
      if (section == 0) {
        const ModelConfig c = ModelConfig::from_json(j);
        if (c.matrix_weights() < 200000) Transformer model(c, 1);  // a small accepted config builds
      } else if (section == 1) {
        TrainingConfig::from_json(j);
      } else {
        QuantizationConfig::from_json(j);
      }
    });
  }
  CHECK(tally.clean_errors > 0);
}

TEST_CASE("fuzz input text: random bytes and code points through repair, normaliser and vocabulary") {
  Rng rng(184);
  Tally tally{"input text"};
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[START]", "[END]"};
  for (char c = 'a'; c <= 'z'; ++c) tokens.insert(tokens.end(), {std::string(1, c), "##" + std::string(1, c)});
  const Vocabulary vocab(tokens);
  for (int i = 0; i < 400; ++i) {
    std::string line;
    const uint64_t n = rng.below(200);
    for (uint64_t k = 0; k < n; ++k) {
      if (rng.below(2)) {
        line.push_back(static_cast<char>(rng.below(256)));  // any byte: invalid UTF-8 too
      } else {
        const auto cp = static_cast<UChar32>(rng.below(0x110000));
        char utf8[4];
        int32_t len = 0;
        if (cp < 0xD800 || cp > 0xDFFF) U8_APPEND_UNSAFE(utf8, len, cp);
        line.append(utf8, static_cast<size_t>(len));
      }
    }
    run_case(tally, [&] {
      std::string repaired = line;
      replace_invalid_utf8(repaired);  // what translate does with its input
      (void)vocab.encode(repaired);
    });
  }
  Tally corpus{"corpus files"};
  bcqnmt::test::ScratchDir scratch;
  for (int i = 0; i < 100; ++i) {
    std::string bytes;
    for (const char* name : {"train.pt", "train.en"}) {
      if (bytes.empty() || rng.below(2)) {  // half the time both sides alike, so line counts agree
        bytes.clear();
        for (uint64_t k = 0, n = rng.below(300); k < n; ++k)
          bytes.push_back("ab \n\r\t."[rng.below(7)] ^ static_cast<char>(rng.below(8) == 0 ? rng.below(256) : 0));
      }
      write_bytes(scratch.path / name, bytes);
    }
    run_case(corpus, [&] { (void)load_split(scratch.path.string(), Split::kTrain); });
  }
}
