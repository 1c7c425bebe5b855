"""RadScholar labeling service: projects, cases, worklists, annotations, reviews, dataset versions."""
