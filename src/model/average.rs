//! The average of a network's weights over several epochs of one run (stochastic weight
//! averaging, Izmailov et al., 2018): late in a run the weights wander around a good region, and
//! their mean usually lies nearer its middle than any one epoch's. It makes a run's result depend
//! less on which epoch a noisy validation loss happens to pick.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// Sums of every float parameter of a network, in the order the network's modules visit them.
#[derive(Debug, Clone, Default)]
pub struct WeightAverage {
    sums: Vec<Vec<f64>>,
    count: usize,
}

impl WeightAverage {
    pub fn count(&self) -> usize {
        self.count
    }

    /// Adds one network's weights. Every network added must have the same shape.
    pub fn add<B: Backend, M: Module<B>>(&mut self, network: &M) {
        let mut collector = Collector { values: Vec::new() };
        network.visit(&mut collector);
        if self.sums.is_empty() {
            self.sums = collector.values.iter().map(|v| vec![0.0; v.len()]).collect();
        }
        assert_eq!(self.sums.len(), collector.values.len(), "networks of one shape");
        for (sum, values) in self.sums.iter_mut().zip(&collector.values) {
            assert_eq!(sum.len(), values.len(), "networks of one shape");
            for (s, v) in sum.iter_mut().zip(values) {
                *s += f64::from(*v);
            }
        }
        self.count += 1;
    }

    /// `template` (a network of the same shape) with the mean of the weights added so far; the
    /// template itself when nothing was added.
    pub fn apply<B: Backend, M: Module<B>>(&self, template: M) -> M {
        if self.count == 0 {
            return template;
        }
        template.map(&mut Writer { average: self, next: 0 })
    }
}

impl WeightAverage {
    /// The sums as little-endian f64 values, parameter after parameter (the checkpoint's file).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.sums.iter().flatten().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Reads [`Self::to_bytes`]'s output for `count` networks shaped as `template`. Nothing in the
    /// bytes is trusted: their length must be the template's weights exactly, every sum finite.
    pub fn from_bytes<B: Backend, M: Module<B>>(bytes: &[u8], count: usize, template: &M) -> Result<Self, String> {
        let mut collector = Collector { values: Vec::new() };
        template.visit(&mut collector);
        let weights: usize = collector.values.iter().map(Vec::len).sum();
        if bytes.len() != weights * 8 {
            return Err(format!("{} bytes where the network's {weights} weights need {}", bytes.len(), weights * 8));
        }
        if count == 0 {
            return Err("an average of 0 epochs".into());
        }
        let mut values = bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
        let mut sums = Vec::with_capacity(collector.values.len());
        for shape in &collector.values {
            let sum: Vec<f64> = values.by_ref().take(shape.len()).collect();
            if let Some(bad) = sum.iter().find(|v| !v.is_finite()) {
                return Err(format!("a sum of weights is {bad}"));
            }
            sums.push(sum);
        }
        Ok(Self { sums, count })
    }
}

struct Collector {
    values: Vec<Vec<f32>>,
}

impl<B: Backend> ModuleVisitor<B> for Collector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let data = param.val().into_data().convert::<f32>();
        self.values.push(data.to_vec::<f32>().unwrap_or_default());
    }
}

struct Writer<'a> {
    average: &'a WeightAverage,
    next: usize,
}

impl<B: Backend> ModuleMapper<B> for Writer<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let sum = &self.average.sums[self.next];
        self.next += 1;
        let count = self.average.count as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
        let averaged = Tensor::<B, D>::from_data(TensorData::new(mean, tensor.shape()), &tensor.device());
        Param::from_mapped_value(id, averaged, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CpuBackend as Cpu;
    use crate::model::NetConfig;

    #[test]
    fn the_average_of_two_networks_is_their_weights_mean_and_embeds_like_it() {
        let device = Default::default();
        let config = NetConfig::new(8, 16, 3).with_channels([4, 4, 8, 8]).with_embedding_dim(4);
        Cpu::seed(&device, 1);
        let a = config.init::<Cpu>(&device);
        let b = config.init::<Cpu>(&device);
        let mut average = WeightAverage::default();
        assert_eq!(average.count(), 0);
        average.add(&a);
        average.add(&b);
        assert_eq!(average.count(), 2);
        let mean = average.apply(config.init::<Cpu>(&device));
        let values = |net: &crate::model::EmbeddingNet<Cpu>| {
            let mut collector = Collector { values: Vec::new() };
            net.visit(&mut collector);
            collector.values
        };
        let (va, vb, vm) = (values(&a), values(&b), values(&mean));
        assert_eq!(vm.len(), va.len());
        let mut differing = 0;
        for ((x, y), m) in va.iter().flatten().zip(vb.iter().flatten()).zip(vm.iter().flatten()) {
            let expected = ((f64::from(*x) + f64::from(*y)) / 2.0) as f32;
            assert_eq!(*m, expected);
            differing += usize::from(x != y);
        }
        assert!(differing > 100, "two random networks differ ({differing} weights)");
        // Through the checkpoint's bytes and back: the same mean; damaged bytes are refused.
        let bytes = average.to_bytes();
        let restored = WeightAverage::from_bytes(&bytes, 2, &a).expect("restored");
        assert_eq!(values(&restored.apply(config.init::<Cpu>(&device))), vm);
        assert!(WeightAverage::from_bytes(&bytes[8..], 2, &a).is_err(), "one value short");
        assert!(WeightAverage::from_bytes(&bytes, 0, &a).is_err(), "no epochs");
        let mut poisoned = bytes.clone();
        poisoned[..8].copy_from_slice(&f64::NAN.to_le_bytes());
        assert!(WeightAverage::from_bytes(&poisoned, 2, &a).is_err(), "a NaN sum");
        // One network averaged alone is itself.
        let mut single = WeightAverage::default();
        single.add(&a);
        assert_eq!(values(&single.apply(config.init::<Cpu>(&device))), va);
    }
}
