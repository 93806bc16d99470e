"""TCLR: temporal contrastive learning of video representations (Dave et al., CVIU 2022)."""
