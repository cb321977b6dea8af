// Checkpoint files: exact round trip, one clear error per kind of damage, compatibility
// checks, the atomic writer, and CheckpointKeeper's latest/best bookkeeping.
#include <doctest/doctest.h>

#include <unistd.h>

#include <sys/stat.h>

#include <fstream>
#include <thread>
#include <iterator>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/random.h"
#include "optim/checkpoint.h"
#include "optim/checkpoint_keeper.h"

using namespace bcqnmt;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "bcqnmt_ckpt_XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

Tensor random_tensor(Shape shape, Rng& rng) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.normal();
  return t;
}

const char* kConfig = R"({"num_layers": 2, "d_model": 16, "dff": 32, "num_heads": 2})";

Checkpoint sample_checkpoint() {
  Rng rng(3);
  Checkpoint c;
  c.parameters = {{"encoder.0.attention.query.weight", random_tensor({16, 32}, rng)},
                  {"encoder.0.attention.query.bias", random_tensor({32}, rng)},
                  {"scale", random_tensor({}, rng)}};
  c.optimizer.step = 17;
  for (const auto& p : c.parameters) {
    c.optimizer.first_moment.push_back(random_tensor(p.value.shape(), rng));
    c.optimizer.second_moment.push_back(random_tensor(p.value.shape(), rng));
  }
  c.step = 17;
  c.epoch = 2;
  c.rng_state = 0xDEADBEEFCAFEF00Dull;
  c.trainer_progress = std::string("\x00\x01\xff binary \n", 12);
  c.config_json = kConfig;
  c.source_vocab_fingerprint = 0x1111222233334444ull;
  c.target_vocab_fingerprint = 0x5555666677778888ull;
  c.metrics = {{"val_masked_accuracy", 0.6362}, {"val_loss", 2.1109}};
  return c;
}

void check_same_tensor(const Tensor& a, const Tensor& b) {
  CHECK(a.shape() == b.shape());
  CHECK(a.to_vector() == b.to_vector());
}

}  // namespace

TEST_CASE("checkpoint round trip is exact") {
  TempDir dir;
  const Checkpoint c = sample_checkpoint();
  save_checkpoint(dir.path / "latest.ckpt", c);
  const Checkpoint r = load_checkpoint(dir.path / "latest.ckpt");
  REQUIRE(r.parameters.size() == c.parameters.size());
  for (size_t k = 0; k < c.parameters.size(); ++k) {
    CHECK(r.parameters[k].name == c.parameters[k].name);
    check_same_tensor(r.parameters[k].value, c.parameters[k].value);
    check_same_tensor(r.optimizer.first_moment[k], c.optimizer.first_moment[k]);
    check_same_tensor(r.optimizer.second_moment[k], c.optimizer.second_moment[k]);
  }
  CHECK(r.optimizer.step == 17);
  CHECK(r.step == 17);
  CHECK(r.epoch == 2);
  CHECK(r.rng_state == c.rng_state);
  CHECK(r.trainer_progress == c.trainer_progress);
  CHECK(r.config_json == c.config_json);
  CHECK(r.source_vocab_fingerprint == c.source_vocab_fingerprint);
  CHECK(r.target_vocab_fingerprint == c.target_vocab_fingerprint);
  CHECK(r.metrics == c.metrics);
  // Saving what was loaded gives the same bytes: nothing is lost or reordered.
  save_checkpoint(dir.path / "again.ckpt", r);
  CHECK(read_bytes(dir.path / "again.ckpt") == read_bytes(dir.path / "latest.ckpt"));
}

TEST_CASE("a damaged checkpoint gives one clear error naming the file, and stays as it was") {
  TempDir dir;
  const fs::path path = dir.path / "latest.ckpt";
  save_checkpoint(path, sample_checkpoint());
  const std::string good = read_bytes(path);
  const std::string name = path.string();

  auto check_error = [&](const std::string& bytes, const std::string& problem) {
    write_bytes(path, bytes);
    std::string message;
    try {
      load_checkpoint(path);
    } catch (const CheckpointError& e) {
      message = e.what();
    }
    MESSAGE(message);
    CHECK(message.rfind(name + ": ", 0) == 0);
    CHECK(message.find(problem) != std::string::npos);
    CHECK(read_bytes(path) == bytes);  // loading never rewrites or removes the file
  };

  SUBCASE("truncated") {
    const std::string cut = good.substr(0, good.size() / 2);
    check_error(cut, "truncated: expected " + std::to_string(good.size()) + " bytes, got " +
                         std::to_string(cut.size()));
  }
  SUBCASE("truncated inside the header") { check_error(good.substr(0, 10), "truncated"); }
  SUBCASE("empty") { check_error("", "truncated"); }
  SUBCASE("flipped byte in the payload") {
    std::string bad = good;
    bad[good.size() / 2] ^= 0x20;
    check_error(bad, "checksum mismatch (file corrupted?)");
  }
  SUBCASE("flipped byte in the checksum") {
    std::string bad = good;
    bad[good.size() - 1] ^= 0x01;
    check_error(bad, "checksum mismatch (file corrupted?)");
  }
  SUBCASE("not a checkpoint") { check_error(std::string(100, 'x'), "not a bcqnmt checkpoint (bad magic)"); }
  SUBCASE("trailing data") { check_error(good + "junk", "trailing data"); }
  SUBCASE("missing file") {
    fs::remove(path);
    const std::string expected = name + ": cannot open checkpoint";
    CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains(expected.c_str()), CheckpointError);
  }
}

TEST_CASE("compatibility: another config or another vocabulary is refused clearly") {
  const Checkpoint c = sample_checkpoint();
  const fs::path path = "runs/x/latest.ckpt";
  const uint64_t src = c.source_vocab_fingerprint, tgt = c.target_vocab_fingerprint;
  // Same config written differently (key order, spacing) is the same config.
  CHECK_NOTHROW(check_checkpoint_compatible(
      c, path, R"({"num_heads":2,"dff":32,"d_model":16,"num_layers":2})", src, tgt));
  CHECK_THROWS_WITH_AS(
      check_checkpoint_compatible(c, path, R"({"num_layers": 4, "d_model": 16, "dff": 32, "num_heads": 2})", src,
                                  tgt),
      doctest::Contains("runs/x/latest.ckpt: written for another model config (/num_layers: checkpoint 2, expected 4)"),
      CheckpointError);
  CHECK_THROWS_WITH_AS(
      check_checkpoint_compatible(c, path, R"({"num_layers": 2, "d_model": 16, "dff": 32})", src, tgt),
      doctest::Contains("/num_heads: checkpoint 2, expected absent"), CheckpointError);
  CHECK_THROWS_WITH_AS(check_checkpoint_compatible(c, path, kConfig, src + 1, tgt),
                       doctest::Contains("runs/x/latest.ckpt: written with another source vocabulary"),
                       CheckpointError);
  CHECK_THROWS_WITH_AS(check_checkpoint_compatible(c, path, kConfig, src, tgt + 1),
                       doctest::Contains("runs/x/latest.ckpt: written with another target vocabulary"),
                       CheckpointError);
}

TEST_CASE("a checkpoint whose optimizer state does not fit its parameters is not written") {
  TempDir dir;
  Checkpoint c = sample_checkpoint();
  c.optimizer.first_moment.pop_back();
  CHECK_THROWS_WITH_AS(save_checkpoint(dir.path / "x.ckpt", c), doctest::Contains("optimizer state has 2 moments"),
                       CheckpointError);
  CHECK_FALSE(fs::exists(dir.path / "x.ckpt"));
}

TEST_CASE("write_file_atomically replaces the file whole, or not at all") {
  TempDir dir;
  const fs::path path = dir.path / "vocab.txt";
  write_file_atomically(path, std::string_view("first\n"));
  CHECK(read_bytes(path) == "first\n");
  write_file_atomically(path, std::string_view("second\n"));
  CHECK(read_bytes(path) == "second\n");
  // A writer that fails half-way: the old file stays, no temporary file is left behind.
  CHECK_THROWS_AS(write_file_atomically(path,
                                        [](std::ostream& out) {
                                          out << "half of the new";
                                          throw std::runtime_error("disk full");
                                        }),
                  std::runtime_error);
  CHECK(read_bytes(path) == "second\n");
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  CHECK_THROWS_WITH_AS(write_file_atomically(dir.path / "no_such_dir" / "f", std::string_view("x")),
                       doctest::Contains("no_such_dir/f"), CoreError);
}

TEST_CASE("write_file_atomically writes through links, FIFOs and devices instead of replacing them") {
  TempDir dir;
  // A symbolic link (relative, two deep) stays a link; the file at its end gets the bytes.
  const fs::path real = dir.path / "real.txt";
  write_file_atomically(real, std::string_view("old\n"));
  fs::create_symlink("real.txt", dir.path / "inner");
  fs::create_symlink(dir.path / "inner", dir.path / "link.txt");
  write_file_atomically(dir.path / "link.txt", std::string_view("new\n"));
  CHECK(fs::is_symlink(fs::symlink_status(dir.path / "link.txt")));
  CHECK(fs::is_symlink(fs::symlink_status(dir.path / "inner")));
  CHECK(read_bytes(real) == "new\n");
  // A dangling link: its target is created.
  fs::create_symlink("later.txt", dir.path / "dangling");
  write_file_atomically(dir.path / "dangling", std::string_view("made\n"));
  CHECK(fs::is_symlink(fs::symlink_status(dir.path / "dangling")));
  CHECK(read_bytes(dir.path / "later.txt") == "made\n");
  // A character device (-o /dev/null): written, not replaced by a regular file.
  write_file_atomically("/dev/null", std::string_view("gone\n"));
  CHECK(fs::is_character_file("/dev/null"));
  // A FIFO: a reader on the other end gets the bytes, and the FIFO is still a FIFO.
  const fs::path fifo = dir.path / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string received;
  std::thread reader([&] { received = read_bytes(fifo); });
  write_file_atomically(fifo, std::string_view("through\n"));
  reader.join();
  CHECK(received == "through\n");
  CHECK(fs::is_fifo(fifo));
  // A directory is refused by name, and left alone.
  CHECK_THROWS_WITH_AS(write_file_atomically(dir.path, std::string_view("x")), doctest::Contains("is a directory"),
                       CoreError);
  CHECK(fs::is_directory(dir.path));
}

TEST_CASE("CheckpointKeeper keeps latest and the best by a metric, across restarts") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  Checkpoint c = sample_checkpoint();
  auto with_accuracy = [&](double acc, int64_t step) {
    c.metrics["val_masked_accuracy"] = acc;
    c.step = step;
    return c;
  };
  {
    CheckpointKeeper keeper(run, "val_masked_accuracy", MetricGoal::maximize);
    CHECK_FALSE(keeper.best_value().has_value());
    CHECK(keeper.save(with_accuracy(0.50, 1)));
    CHECK_FALSE(keeper.save(with_accuracy(0.40, 2)));
    CHECK(load_checkpoint(keeper.best_path()).step == 1);
    CHECK(load_checkpoint(keeper.latest_path()).step == 2);
    CHECK(keeper.save(with_accuracy(0.60, 3)));
    CHECK(*keeper.best_value() == 0.60);
  }
  {
    // A restart: a fresh keeper learns the best value from latest.ckpt.
    CheckpointKeeper keeper(run, "val_masked_accuracy", MetricGoal::maximize);
    const Checkpoint latest = load_checkpoint(keeper.latest_path());
    CHECK(latest.metrics.at("best_val_masked_accuracy") == 0.60);
    keeper.resume_from(latest);
    CHECK(*keeper.best_value() == 0.60);
    CHECK_FALSE(keeper.save(with_accuracy(0.55, 4)));
    // What a save killed half-way leaves behind is cleared by the next keeper.
    write_bytes(run / "latest.ckpt.tmp.4242.0", "half a checkpoint");
    write_bytes(run / "notes.txt", "kept");
    CheckpointKeeper next(run, "val_masked_accuracy", MetricGoal::maximize);
    CHECK_FALSE(fs::exists(run / "latest.ckpt.tmp.4242.0"));
    CHECK(fs::exists(run / "notes.txt"));
    CHECK(load_checkpoint(keeper.best_path()).step == 3);
    CHECK(load_checkpoint(keeper.latest_path()).metrics.at("best_val_masked_accuracy") == 0.60);
  }
  {
    CheckpointKeeper keeper(dir.path / "loss_run", "val_loss", MetricGoal::minimize);
    c.metrics["val_loss"] = 2.0;
    CHECK(keeper.save(c));
    c.metrics["val_loss"] = 2.5;
    CHECK_FALSE(keeper.save(c));
    c.metrics["val_loss"] = 1.5;
    CHECK(keeper.save(c));
    c.metrics.erase("val_loss");  // no evaluation this time: only latest.ckpt moves
    c.step = 99;
    CHECK_FALSE(keeper.save(c));
    CHECK(load_checkpoint(keeper.latest_path()).step == 99);
    CHECK(load_checkpoint(keeper.best_path()).metrics.at("val_loss") == 1.5);
  }
}
