// The Llama-3.2 package's public API: the model, its Hugging Face directory (config, safetensors,
// tokenizer), generation and LoRA adapters.
export { type LlamaConfig, type GenerationConfig, type Llama3RopeScaling, type LlamaPresetName, type TinyPresetOptions, llamaPreset, parseLlamaConfig, toHF, parseGenerationConfig, generationConfigToHF } from './config.js';
export { dirFiles, openModelDir, loadModelDir, readJsonFile, readLlamaConfig, readGenerationConfig, readTokenizerFile } from './node_files.js';
export { type ModelFiles, type ByteSource, memoryFiles, bytesSource, filePath } from './model_files.js';
export { Llama, type DecoderLayer, type ForwardInput, type ForwardOutput } from './model.js';
export { buildLlama, initLlama, type WeightSource } from './init.js';
export { loadLlama, type LoadModelOptions } from './load.js';
export { writeModelDir, saveModelDir, type ModelDirContents } from './model_dir_write.js';
export { ModelDir, parseTokenizerConfig, type ModelTensorInfo, type TokenizerConfig, CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, GENERATION_CONFIG_FILE } from './model_dir.js';
export { SafetensorsReader, openSafetensors, writeSafetensors, type SafetensorsDType, type TensorInfo, type TensorData, type TensorToWrite, type WritableDType } from './safetensors.js';
export { Tokenizer, type DecodeOptions } from './tokenizer.js';
export { Linear, type LoraWeights } from './linear.js';
export { type LoraConfig, DEFAULT_LORA, applyLora, loraParameters, mergeLora, saveLora, loadLora, peftAdapterConfig, parsePeftAdapterConfig, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from './lora.js';
export { Decoder, type DecodeStep } from './decoder.js';
export { KvCache } from './kv_cache.js';
export { generate, continueTokens, type GenerateOptions } from './generate.js';
export { type SamplingOptions, sampleToken, argmaxOf, tokenProbability, HostRng } from './sampling.js';
