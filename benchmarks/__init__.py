"""The product's measured claims. Each `bench_*.py` module offers `run(size: Size) -> list[Figure]`."""
