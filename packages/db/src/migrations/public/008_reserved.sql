-- Placeholder for version 8 (assigned to the tenant lifecycle of #28): the lead drops this file when merging the real 008.
SELECT 1;
