"""CVRL: spatiotemporal contrastive video representation learning (Qian et al., CVPR 2021)."""
