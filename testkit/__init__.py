"""What tests and benchmarks both use: card texts, synthetic scenes, recorders. Never imported by the product."""
