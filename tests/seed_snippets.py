"""The seed's Python snippets, verbatim (README "Usage Examples", "Migration Guide",
"Monitoring", "Future Enhancements"): tests run them with only their import lines changed."""

from __future__ import annotations

SNIPPETS = {
    "basic": """\
from unwritten.training.systematic_generator import SystematicParameterGenerator
from unwritten.training.config_enhanced import initialize_enhanced_config

# Initialize with enhanced config
config = initialize_enhanced_config({
    'batch_size_emotional': 8,
    'target_emotional_authenticity': 2000
})

# Create systematic generator
generator = SystematicParameterGenerator(config)

# Generate with automatic coverage tracking
results = generator.run_systematic_production_cycle(
    target_examples=100,
    use_batch_processing=True
)

# Get coverage report
coverage_report = generator.get_coverage_report()
print(f"Total combinations tracked: {coverage_report['total_combinations_tracked']}")
print(f"Authenticity coverage: {coverage_report['authenticity_coverage']}")
print(f"Complexity coverage: {coverage_report['complexity_coverage']}")
""",
    "multi_step": """\
from unwritten.training.multi_step_systematic import MultiStepSystematicGenerator

# Initialize multi-step generator
generator = MultiStepSystematicGenerator(config)

# Generate with full compositional depth
samples, quality_analysis = generator.generate_complete_batch_systematic(
    batch_size=5,
    target_coverage=None  # or provide coverage dict for gap-filling
)

# Check quality
if quality_analysis['systematic_validation']['meets_spectrum_requirements']:
    print("✅ Full spectrum coverage achieved!")
else:
    gaps = quality_analysis['systematic_validation']['missing_combinations']
    print(f"⚠️ Gaps remaining: {gaps}")

# Save with metadata
generator.save_systematic_multi_step_batch(samples, quality_analysis, batch_num=0)
""",
    "migration_new": """\
from unwritten.training.systematic_generator import SystematicParameterGenerator
from unwritten.training.config_enhanced import initialize_enhanced_config

config = initialize_enhanced_config({'batch_size_emotional': 8})
generator = SystematicParameterGenerator(config)
batch = generator.generate_systematic_emotional_batch(batch_size=8)
""",
    "batch_processing_new": """\
# Generate 5 scenarios
scenarios = generator._generate_systematic_parameters(5)

# ONE API call for all 5
batch = generator.generate_batch_with_shared_context(scenarios)
# 20 API calls for 100 examples
""",
    "quality_monitoring": """\
# Track generation quality over time
quality_analysis = generator.track_generation_coverage(examples)

if quality_analysis['gaps']:
    print(f"⚠️ Coverage gaps detected: {quality_analysis['gaps']}")
    # Automatically prioritize gap-filling in next batch
else:
    print("✅ Full coverage achieved!")
""",
    "numerical_grounding": """\
config = initialize_enhanced_config({
    'numerical_grounding': {
        'require_calculation_steps': True,
        'require_qualitative_anchors': True,
        'enforce_calibration_guide': True  # Requires calibration guide
    }
})
""",
    "model_routing": """\
config = initialize_enhanced_config({
    'efficiency_optimization': {
        'model_routing': {
            'simple_examples': 'qwen3:8b',      # Fast for baseline
            'complex_examples': 'qwen3:30b-a3b', # Powerful for complexity
            'validation': 'qwen3:32b'            # Highest quality
        }
    }
})
""",
    "quick_start_generate": """\
from unwritten.training.systematic_generator import SystematicParameterGenerator
from unwritten.training.config_enhanced import initialize_enhanced_config

config = initialize_enhanced_config()
generator = SystematicParameterGenerator(config)
results = generator.run_systematic_production_cycle(target_examples=100)
print(f'✅ Generated {len(results["emotional_authenticity"])} examples')
""",
    "quick_start_coverage": """\
from unwritten.training.systematic_generator import SystematicParameterGenerator
from unwritten.training.config_enhanced import initialize_enhanced_config

config = initialize_enhanced_config()
generator = SystematicParameterGenerator(config)
report = generator.get_coverage_report()
print(f'Coverage: {report}')
""",
}
