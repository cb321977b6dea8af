// Issue 17, "threads must never slow decoding down": a batch-1 decoding step of the BCQ model
// took 21.1 ms per 64 tokens on 1 thread and 23.8 ms on 2, because every attention call split
// its 8 heads (~1 us each) over the TBB workers and every such fork paid more for waking and
// joining a worker than it saved. The threading rule (core/parallel.h, kMinTaskNs, used by
// attention and bcq_gemm through their cost per item) keeps work that small on the calling
// thread. Checked without timing anything: a TBB observer counts the worker threads that
// join the arena while greedy decoding runs on 2 threads, with the model's widths (d_model 128,
// 8 heads, FFN 512) and a vocabulary small enough that no single product is worth a task
// (before the rule, every attention call brought the worker in). A parallel_for with enough
// work first shows that the observer does see a worker join.
#include <doctest/doctest.h>

#include <tbb/task_scheduler_observer.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/parallel.h"
#include "nn/decoding.h"
#include "quant/bcq_model.h"
#include "quant_tiny_model.h"
#include "test_data_files.h"

using namespace bcqnmt;

namespace {

// How many times a TBB worker joined this thread's arena while f ran.
template <class F>
int worker_entries(F&& f) {
  struct Observer : tbb::task_scheduler_observer {
    Observer() { observe(true); }
    ~Observer() override { observe(false); }
    void on_scheduler_entry(bool is_worker) override {
      if (is_worker) ++entries;
    }
    std::atomic<int> entries{0};
  };
  // An idle worker leaves the arena after spinning for a while; from then on, only new
  // tasks bring it back.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Observer observer;
  f();
  return observer.entries.load();
}

float busy(int64_t iterations) {
  float a = 1.0f;
  for (int64_t i = 0; i < iterations; ++i) a = a * 0.999999f + 1e-7f;
  return a;
}

}  // namespace

TEST_CASE("batch-1 greedy decoding at the model's widths brings no TBB worker in on 2 threads") {
  set_num_threads(2);
  ModelConfig config = test::quant_tiny_config();
  config.d_model = 128;
  config.dff = 512;
  config.num_heads = 8;
  config.key_dim = 16;
  config.src_vocab_size = config.tgt_vocab_size = 600;
  Transformer model(config, 11);
  QuantizeSettings settings;
  settings.bits = BitAllocation::uniform(3);
  settings.solver.method = BcqMethod::greedy;
  test::ScratchDir dir;
  BcqModel::quantize(model, settings).save(dir.path / "model.bcq", model, 0, 0);
  const LoadedBcqModel packed = load_bcq_model(dir.path / "model.bcq", /*kernels=*/true);
  // A 3-token source keeps the encoder's products below gemm()'s own split size too, so
  // the decoding steps are what is observed, fp32 and BCQ.
  const IndexTensor source{{1, 3}, {kStartId, 40, kEndId}};

  std::vector<float> sink(64);
  CHECK(worker_entries([&] {  // 64 tasks of ~1 ms each
          parallel_for(64, 1, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) sink[static_cast<size_t>(i)] = busy(1'000'000);
          });
        }) > 0);
  for (const Transformer* m : {&model, packed.model.get()}) {
    CAPTURE(m == &model ? "fp32" : "3-bit BCQ");
    CHECK(worker_entries([&] { greedy_logits_cached(*m, source, 48); }) == 0);
  }
  set_num_threads(0);
}
